using System.Net;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>A policy's footprint in Redis is bounded (entries and bytes), whatever query strings clients invent.</summary>
public abstract class ResponseCachingBoundTests(RedisTestServer redis)
{
    /// <summary>The easy restriction: a policy that lists its query keys keys on those only, so other keys cannot bust it.</summary>
    [Fact]
    public async Task VaryByQuery_KeysOnTheListedKeysOnly_CaseInsensitively()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>().Policy("items", ("VaryByQueryKeys:0", "page"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings);
        var client = fleet[0].Client;

        var page1 = await (await client.GetAsync("/items/1?page=1")).BodyAsync();
        var tracked = await (await client.GetAsync("/items/1?page=1&utm_source=mail")).BodyAsync();
        var upper = await (await client.GetAsync("/items/1?PAGE=1")).BodyAsync();
        var page2 = await (await client.GetAsync("/items/1?page=2")).BodyAsync();
        var none = await (await client.GetAsync("/items/1?utm_source=mail")).BodyAsync();
        Assert.Equal(page1, tracked);
        Assert.Equal(page1, upper);
        Assert.NotEqual(page1, page2);
        Assert.NotEqual(page1, none);
        Assert.Equal(3, origin.Executions);

        // Five URLs, three variants in Redis: the unlisted keys never reached a key.
        var stored = 0;
        foreach (var key in (await redis.KeysAsync(fleet.KeyPrefix + ":rc:")).Where(k => k.Contains("}:e:", StringComparison.Ordinal)))
        {
            stored += await redis.Database.HashExistsAsync(key, "s") ? 1 : 0;
        }

        Assert.Equal(3, stored);
    }

    [Fact]
    public async Task CacheBustingQueries_LeaveAtMostMaxEntriesInRedis_AndKeepTheNewest()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>().Policy("items", ("Tags:0", "items"), ("Tags:1", "item:{id}"), ("MaxEntries", "5"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings);
        var client = fleet[0].Client;

        for (var i = 0; i < 5 + 12; i++)
        {
            var response = await client.GetAsync($"/items/1?cb={Guid.NewGuid():N}");
            Assert.Contains("stored", response.CacheStatus(), StringComparison.Ordinal);
        }

        // A fill that trims costs what any fill does: the lookup and fill.lua, which keeps the bound in the same call.
        var newest = $"/items/1?cb=newest";
        using (var scope = fleet[0].Commands.Begin())
        {
            Assert.Contains("stored", (await client.GetAsync(newest)).CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(["EVAL", "EVAL"], scope.Commands);
        }

        Assert.StartsWith("RedisEdge; hit", (await client.GetAsync(newest)).CacheStatus(), StringComparison.Ordinal);

        var keys = await redis.KeysAsync(fleet.KeyPrefix + ":rc:");
        var stored = 0;
        foreach (var key in keys.Where(k => k.Contains("}:e:", StringComparison.Ordinal)))
        {
            stored += await redis.Database.HashExistsAsync(key, "s") ? 1 : 0;
        }

        Assert.InRange(stored, 1, 5);
        Assert.InRange(keys.Count(k => k.Contains("}:r:", StringComparison.Ordinal)), 1, 5);
        foreach (var set in keys.Where(k => k.Contains("}:t:", StringComparison.Ordinal)))
        {
            Assert.InRange(await redis.Database.SortedSetLengthAsync(set), 1, 5);
        }

        // Every key the policy holds: at most 5 entries, their 5 URL sets, 2 tag sets, the policy's own index (two keys)
        // and its eviction sequence.
        Assert.True(keys.Count <= 5 + 5 + 2 + 2 + 1, "keys: " + string.Join(", ", keys));
        Assert.Equal(5 + 12 + 1, origin.Executions);
    }

    [Fact]
    public async Task CacheBustingQueries_LeaveAtMostMaxBytesInRedis()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>().Policy("items", ("MaxBytes", "400"), ("MaximumBodySize", "200"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings);
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync($"/items/1?cb={i}")).StatusCode);
        }

        long bytes = 0;
        var entries = 0;
        foreach (var key in await redis.EntryKeysAsync(fleet))
        {
            if (await redis.Database.HashExistsAsync(key, "s"))
            {
                entries++;
                bytes += await redis.Database.HashStringLengthAsync(key, "b") + await redis.Database.HashStringLengthAsync(key, "h");
            }
        }

        Assert.InRange(entries, 1, 29);
        Assert.InRange(bytes, 1, 400);
    }
}

[Collection(RedisCollection.Name)]
public sealed class ResponseCachingBoundTestsOnSingleNode(RedisServerFixture redis) : ResponseCachingBoundTests(redis);

/// <summary>The same on a six-node cluster: every key the bound touches is in the policy's slot.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCachingBoundTestsOnCluster(RedisClusterFixture redis) : ResponseCachingBoundTests(redis);
