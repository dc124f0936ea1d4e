using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Redis round trips per request, counted from the commands an instance sends.</summary>
public abstract class ResponseCachingRoundTripTests(RedisTestServer redis)
{
    [Fact]
    public async Task MissWithFillCostsTwo_HitCostsOne()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var instance = fleet[0];
        await instance.Client.GetAsync("/items/warm-up");

        IReadOnlyList<string> miss;
        using (var scope = instance.Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/items/1")).StatusCode);
            miss = scope.Commands;
        }

        IReadOnlyList<string> hit;
        using (var scope = instance.Commands.Begin())
        {
            Assert.Contains("hit", (await instance.Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
            hit = scope.Commands;
        }

        Assert.Equal(2, miss.Count); // lookup, then fill (which keeps the policy's bound too)
        Assert.All(miss, c => Assert.StartsWith("EVAL", c, StringComparison.Ordinal));
        Assert.Single(hit);
    }

    [Fact]
    public async Task NearCacheHit_CostsZero()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], nearCache: true);
        var instance = fleet[0];
        await CacheTestApp.EventuallyAsync(() => instance.Near().IsLive, "the near cache is live");
        await instance.Client.GetAsync("/items/1");

        // The fill's own message drops any copy; the first Redis hit after it fills the near cache.
        await CacheTestApp.EventuallyAsync(() => instance.Near().Invalidations >= 1, "the fill message came back");
        await instance.Client.GetAsync("/items/1");

        using var scope = instance.Commands.Begin();
        var response = await instance.Client.GetAsync("/items/1");
        Assert.Contains("detail=near", response.CacheStatus(), StringComparison.Ordinal);
        Assert.Empty(scope.Commands);
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task NearCache_KeepsNoEntryOverMaxEntrySize_WhichStaysOneLookupPerHit()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(
            redis, origin, new() { [$"{CacheTestApp.Section}:NearCache:MaxEntrySize"] = "1024" }, nearCache: true);
        var instance = fleet[0];
        await CacheTestApp.EventuallyAsync(() => instance.Near().IsLive, "the near cache is live");
        await instance.Client.GetAsync("/big/1");
        await instance.Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => instance.Near().Invalidations >= 2, "both fill messages came back");
        await instance.Client.GetAsync("/big/1");
        await instance.Client.GetAsync("/items/1");

        // The small entry is served from memory; the 64 KiB one from Redis on every hit.
        using (var scope = instance.Commands.Begin())
        {
            var small = await instance.Client.GetAsync("/items/1");
            Assert.Contains("detail=near", small.CacheStatus(), StringComparison.Ordinal);
            Assert.Empty(scope.Commands);
        }

        using (var scope = instance.Commands.Begin())
        {
            var big = await instance.Client.GetAsync("/big/1");
            Assert.Contains("hit", big.CacheStatus(), StringComparison.Ordinal);
            Assert.DoesNotContain("near", big.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(64 * 1024, (await big.Content.ReadAsByteArrayAsync()).Length);
            Assert.Single(scope.Commands);
        }

        Assert.Equal(2, origin.Executions);
    }

    [Fact]
    public async Task CoalescedWaiter_CostsOneLookupPerWakeUp_AndNeverRunsTheOrigin()
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        var filling = fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => origin.Started == 1, "the fill started");

        IReadOnlyList<string> commands;
        using (var scope = fleet[1].Commands.Begin())
        {
            var waiting = fleet[1].Client.GetAsync("/items/1");
            var events = fleet[1].Services.GetRequiredService<ResponseCacheEvents>();
            await CacheTestApp.EventuallyAsync(() => events.WaitingKeys == 1, "the request on instance 1 waits for the fill");
            origin.Gate.TrySetResult();
            var response = await waiting;
            Assert.Contains("collapsed", response.CacheStatus(), StringComparison.Ordinal);
            commands = scope.Commands;
        }

        await filling;
        Assert.Equal(1, origin.Executions);

        // One lookup that found the lease taken, then one per wake-up (pub/sub, or a poll while the origin was held).
        Assert.All(commands, c => Assert.StartsWith("EVAL", c, StringComparison.Ordinal));
        Assert.InRange(commands.Count, 2, 1 + (int)(TimeSpan.FromSeconds(30) / TimeSpan.FromMilliseconds(200)));
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingRoundTripTestsOnSingleNode(RedisServerFixture redis) : ResponseCachingRoundTripTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCachingRoundTripTestsOnCluster(RedisClusterFixture redis) : ResponseCachingRoundTripTests(redis);
