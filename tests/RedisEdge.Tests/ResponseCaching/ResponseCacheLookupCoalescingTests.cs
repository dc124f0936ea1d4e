using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// Concurrent lookups of one key on one instance share one script call (issue 20, item 14), counted from the commands
/// each instance sends. Redis is paused for a moment so the requests are certain to overlap the call in flight, as they
/// do under load.
/// </summary>
public abstract class ResponseCacheLookupCoalescingTests(RedisTestServer redis)
{
    private const int Requests = 50;

    [Fact]
    public async Task ConcurrentHitsOnOneKey_ShareOneLookup_AndAreByteIdenticalHits()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, new Dictionary<string, string?>());
        var instance = fleet[0];
        var filled = await (await instance.Client.GetAsync("/items/1")).Content.ReadAsByteArrayAsync();
        var counter = new RedisCommandCounter(instance.Multiplexer);

        HttpResponseMessage[] responses;
        using (var scope = counter.Begin())
        {
            await PauseAsync();
            responses = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => instance.Client.GetAsync("/items/1")));
            var lookups = scope.Commands.Count(c => c == "EVAL");
            Assert.InRange(lookups, 1, Requests / 5);
        }

        foreach (var response in responses)
        {
            Assert.StartsWith("RedisEdge; hit", response.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(filled, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, origin.Executions);
        Assert.True(instance.Services.GetRequiredService<LookupCoalescer>().Joined > 0);
    }

    [Fact]
    public async Task ConcurrentMissesOverTwoInstances_RunTheOriginOnce_AndTheWaitersOfAnInstanceShareTheirLookups()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, new Dictionary<string, string?>(), instances: 2);
        var counters = fleet.Instances.Select(i => new RedisCommandCounter(i.Multiplexer)).ToArray();
        var scopes = counters.Select(c => c.Begin()).ToArray();

        await PauseAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 2 * Requests).Select(i => fleet[i % 2].Client.GetAsync("/items/7")));
        var evals = scopes.Select(s => s.Commands.Count(c => c == "EVAL")).ToArray();

        Assert.Equal(1, origin.Executions);
        var bodies = new HashSet<string>(StringComparer.Ordinal);
        foreach (var response in responses)
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            bodies.Add(await response.BodyAsync());
        }

        Assert.Equal("id=7;render=1;user=anonymous", Assert.Single(bodies));

        // Without sharing, every request sends at least two lookups (the miss, then the one after the fill's message).
        // The filler also sends its fill and lease renewals; the bound leaves room for polls under load.
        Assert.All(evals, n => Assert.InRange(n, 1, Requests / 5));
    }

    /// <summary>Holds every command for a moment (on every primary), so the requests sent meanwhile all arrive while a
    /// lookup is in flight.</summary>
    private async Task PauseAsync()
    {
        foreach (var server in redis.Primaries)
        {
            await server.ExecuteAsync("CLIENT", "PAUSE", "1000", "ALL");
        }
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheLookupCoalescingTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheLookupCoalescingTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheLookupCoalescingTestsOnCluster(RedisClusterFixture redis) : ResponseCacheLookupCoalescingTests(redis);
