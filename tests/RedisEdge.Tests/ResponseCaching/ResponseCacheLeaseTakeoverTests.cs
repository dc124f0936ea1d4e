using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>A dead filler costs one lease, not a stampede; a live one keeps its lease for as long as the origin runs.</summary>
public abstract class ResponseCacheLeaseTakeoverTests(RedisTestServer redis)
{
    [Fact]
    public async Task AFillerThatDied_OneWaiterTakesOverWhenItsLeaseLapses_AndTheOthersGetItsResponse()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?> { [$"{CacheTestApp.Section}:FillWaitTimeout"] = "00:00:10" };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.Database.KeyDeleteAsync(key);

        // A filler takes the lease with the fleet's own lease time, then its instance dies: nobody renews or releases it.
        var store = fleet[0].Services.GetRequiredService<ResponseCacheStore>();
        var leaseMs = fleet[0].Services.GetRequiredService<ResponseCachePolicyProvider>().Current.FillLeaseMs;
        Assert.True((await store.LookupAsync((RedisKey)key, "dead-filler", leaseMs, default)).Filler);

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => fleet[i % 2].Client.GetAsync("/items/1")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var response in responses)
        {
            Assert.Equal("id=1;render=2;user=anonymous", await response.BodyAsync());
        }

        Assert.Equal(2, origin.Executions);
        Assert.Single(responses, r => r.CacheStatus().Contains("stored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALiveFillerSlowerThanItsLease_KeepsTheLease_SoNobodyElseRunsTheOrigin()
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var settings = new Dictionary<string, string?> { [$"{CacheTestApp.Section}:FillLeaseTimeout"] = "00:00:02" };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        var started = DateTime.UtcNow;
        var filling = fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => origin.Started == 1, "the fill is running");

        // The origin is held while the lease is renewed past two more lease times (its deadline "lx" moves on in Redis);
        // at every look the owner is the same, so the waiter never took it over. A 2 s lease: with 1 s, a machine at
        // load 30 once delayed a renewal past the lease.
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        var owner = (string?)await redis.Database.HashGetAsync(key, "l");
        var firstDeadline = (long)await redis.Database.HashGetAsync(key, "lx");
        var waiting = fleet[1].Client.GetAsync("/items/1");
        for (var deadline = firstDeadline; deadline < firstDeadline + 2 * 2_000;)
        {
            Assert.False(waiting.IsCompleted, "The waiter finished while the filler's origin was still held.");
            Assert.True(DateTime.UtcNow < started.AddSeconds(60), "The lease was not renewed past two lease times within 60 s.");
            await Task.Delay(50);
            var lease = await redis.Database.HashGetAsync(key, ["l", "lx"]);
            Assert.Equal(owner, (string?)lease[0]);
            deadline = (long)lease[1];
        }

        Assert.Equal(1, origin.Started);
        origin.Gate.TrySetResult();
        Assert.Contains("stored", (await filling).CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("id=1;render=1;user=anonymous", await (await waiting).BodyAsync());
        Assert.Equal(1, origin.Executions);
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheLeaseTakeoverTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheLeaseTakeoverTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheLeaseTakeoverTestsOnCluster(RedisClusterFixture redis) : ResponseCacheLeaseTakeoverTests(redis);
