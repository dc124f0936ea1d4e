using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// An eviction fences every fill that began before it: the origin is held on a signal while the eviction runs, and the
/// response it computed before the eviction is never stored after it.
/// </summary>
public abstract class ResponseCacheFenceTests(RedisTestServer redis)
{
    [Theory]
    [InlineData("tag")]
    [InlineData("resource")]
    public async Task EvictionDuringAColdFill_TheOlderResponseIsServedButNotStored(string kind)
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        var filling = fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => origin.Started == 1, "the cold fill is running");

        // Nothing is stored yet, so there is nothing to delete: the eviction must still fence the running fill.
        var evicted = kind == "tag"
            ? await fleet[1].Cache().EvictByTagAsync("item:1")
            : await fleet[1].Cache().EvictAsync("items", "/items/1");
        Assert.Equal(0, evicted);
        origin.Gate.TrySetResult();

        var first = await filling;
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("id=1;render=1;user=anonymous", await first.BodyAsync());
        Assert.DoesNotContain("stored", first.CacheStatus(), StringComparison.Ordinal);

        var next = await fleet[1].Client.GetAsync("/items/1");
        Assert.Equal("id=1;render=2;user=anonymous", await next.BodyAsync());
        Assert.Contains("stored", next.CacheStatus(), StringComparison.Ordinal);
        var hit = await fleet[0].Client.GetAsync("/items/1");
        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("id=1;render=2;user=anonymous", await hit.BodyAsync());
    }

    [Fact]
    public async Task EvictionDuringAStaleWhileRevalidateRefresh_TheRefreshIsNotStored()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("Expire", "00:00:10"), ("StaleWhileRevalidate", "00:00:30"), ("Tags:0", "item:{id}"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        using var fills = new MeasurementRecorder<long>(Metrics(fleet[0]), RedisResponseCachingDefaults.FillsInstrument);

        origin.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stale = await fleet[0].Client.GetAsync("/items/1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Contains("detail=stale-while-revalidate", stale.CacheStatus(), StringComparison.Ordinal);
        await CacheTestApp.EventuallyAsync(() => origin.Started == 2, "the refresh is running");

        await fleet[1].Cache().EvictByTagAsync("item:1");
        origin.Gate.TrySetResult();
        await CacheTestApp.EventuallyAsync(() => fills.Measurements.Count == 1, "the refresh ended");
        Assert.NotEqual("stored", fills.Measurements[0].Tags[RedisResponseCachingDefaults.OutcomeTag]);

        var next = await fleet[1].Client.GetAsync("/items/1");
        Assert.StartsWith("RedisEdge; fwd=uri-miss", next.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("id=1;render=3;user=anonymous", await next.BodyAsync());
    }

    [Fact]
    public async Task EvictionDuringAFillOfAnExpiredEntryWhoseSetScoreHasPassed_TheFillIsNotStored()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("Expire", "00:00:10"), ("StaleIfError", "00:01:00"), ("Tags:0", "items"), ("Tags:1", "item:{id}"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));

        // The entry is past every window, but its hash is still there; its set scores have passed, so the next fill of
        // another entry in the "items" set trims it from that set.
        await redis.AgeAsync(key, TimeSpan.FromSeconds(71));
        await redis.ExpireSetScoresAsync(fleet);
        Assert.Contains("stored", (await fleet[1].Client.GetAsync("/items/2")).CacheStatus(), StringComparison.Ordinal);

        origin.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var filling = fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => origin.Started == 3, "the fill of the expired entry is running");
        await fleet[1].Cache().EvictByTagAsync("items");
        origin.Gate.TrySetResult();

        var first = await filling;
        Assert.Equal("id=1;render=3;user=anonymous", await first.BodyAsync());
        Assert.DoesNotContain("stored", first.CacheStatus(), StringComparison.Ordinal);
        var next = await fleet[1].Client.GetAsync("/items/1");
        Assert.Equal("id=1;render=4;user=anonymous", await next.BodyAsync());
    }

    private static System.Diagnostics.Metrics.Meter Metrics(RedisFleetInstance instance) =>
        instance.Services.GetRequiredService<ResponseCachingMetrics>().Telemetry.Meter;
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheFenceTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheFenceTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheFenceTestsOnCluster(RedisClusterFixture redis) : ResponseCacheFenceTests(redis);
