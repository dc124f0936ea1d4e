using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// A failing origin with a stale copy: everyone gets the stale copy, the origin is retried at most once per interval,
/// and a definitive answer replaces the stale copy instead of leaving it for the whole window.
/// </summary>
public abstract class ResponseCacheFailSafeTests(RedisTestServer redis)
{
    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(-1)]
    public async Task WavesOf20ConcurrentRequestsOver3Instances_RunTheFailingOriginAtMostOncePerInstancePerWave_AndAllGetTheStaleCopy(int failure)
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("Expire", "00:00:10"), ("StaleIfError", "00:01:00"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 3);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        origin.Failure = failure;

        for (var wave = 0; wave < 3; wave++)
        {
            var before = origin.Started;
            var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => fleet[i % 3].Client.GetAsync("/items/1")));

            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            foreach (var response in responses)
            {
                Assert.Equal("id=1;render=1;user=anonymous", await response.BodyAsync());
            }

            Assert.InRange(origin.Started - before, 1, 3);

            // The retry interval passes between waves.
            await redis.EndMarkerAsync(key);
        }

        // The origin recovers: the next retry stores a fresh response.
        origin.Failure = 0;
        var recovered = await fleet[1].Client.GetAsync("/items/1");
        Assert.Contains("stored", recovered.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", (await fleet[2].Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(404)]
    [InlineData(410)]
    [InlineData(0)]
    public async Task ADefinitiveRefreshAnswer_RemovesTheStale200(int status)
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("Expire", "00:00:10"), ("StaleWhileRevalidate", "00:00:30"), ("StaleIfError", "00:01:00"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        using var fills = new MeasurementRecorder<long>(
            fleet[0].Services.GetRequiredService<ResponseCachingMetrics>().Telemetry.Meter, RedisResponseCachingDefaults.FillsInstrument);

        // 0 = the origin answers 200 with Cache-Control: no-store.
        origin.Failure = status;
        origin.NoStore = status == 0;
        var stale = await fleet[0].Client.GetAsync("/items/1");
        Assert.Contains("detail=stale-while-revalidate", stale.CacheStatus(), StringComparison.Ordinal);
        await CacheTestApp.EventuallyAsync(() => fills.Measurements.Count == 1, "the refresh ended");

        foreach (var instance in fleet.Instances)
        {
            var next = await instance.Client.GetAsync("/items/1");
            Assert.Equal(status == 0 ? HttpStatusCode.OK : (HttpStatusCode)status, next.StatusCode);
            Assert.DoesNotContain("render=1;", await next.BodyAsync(), StringComparison.Ordinal);
        }
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheFailSafeTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheFailSafeTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheFailSafeTestsOnCluster(RedisClusterFixture redis) : ResponseCacheFailSafeTests(redis);
