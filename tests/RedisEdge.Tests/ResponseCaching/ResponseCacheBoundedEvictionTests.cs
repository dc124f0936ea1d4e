using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Evicting a tag that holds 100k entries: bounded script calls and bounded messages, over every shard.</summary>
public abstract class ResponseCacheBoundedEvictionTests(RedisTestServer redis)
{
    private const int Entries = 100_000;

    private static async Task<long> ScriptCallsAsync(StackExchange.Redis.IServer server)
    {
        long calls = 0;
        foreach (var group in await server.InfoAsync("commandstats"))
        {
            foreach (var (name, value) in group)
            {
                if (name is "cmdstat_eval" or "cmdstat_evalsha")
                {
                    calls += long.Parse(value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return calls;
    }

    [Fact]
    public async Task ATagOf100kEntries_IsEvictedEntirely_NoScriptCallIsSlow_AndNearCachesStaySubscribed()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>();
        var policies = settings.PoliciesOnEveryPrimary(redis);
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2, nearCache: true);
        await CacheTestApp.EventuallyAsync(() => fleet.Instances.All(i => i.Near().IsLive), "the near caches are live");
        var keys = fleet[0].Services.GetRequiredService<ResponseCacheKeys>();
        var current = fleet[0].Services.GetRequiredService<ResponseCachePolicyProvider>().Current;
        var tags = policies.Select(p => keys.Tag(current.Policies[p], "items")).ToList();

        // The tag is held by one policy per primary: on the cluster its eviction spans every shard.
        Assert.Equal(redis.Primaries.Count, tags.Select(t => redis.PrimaryOf(t)).Distinct().Count());

        // 100k stored entries in the tag's sets, written as fill.lua writes them, 1k per call: a longer call can block a
        // cluster node past the test cluster's 1 s node timeout on a loaded host, and the cluster fails it over.
        const string populate = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local base = string.sub(KEYS[1], 1, string.find(KEYS[1], '}', 1, true))
            for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
              local member = ':e:bulk' .. i
              redis.call('HSET', base .. member, 'v', '1', 's', '200', 'h', '', 'b', 'x', 'et', '"e"', 'c', now, 'f', now + 300000, 'w', now + 300000, 'x', now + 300000)
              redis.call('PEXPIRE', base .. member, 300000)
              redis.call('ZADD', KEYS[1], now + 300000, member)
            end
            redis.call('PEXPIRE', KEYS[1], 300000)
            return 1
            """;
        for (var from = 1; from <= Entries; from += 1_000)
        {
            await redis.Database.ScriptEvaluateAsync(populate, [tags[from / 1_000 % tags.Count]], [from, from + 999]);
        }

        long held = 0;
        foreach (var tag in tags)
        {
            held += await redis.Database.SortedSetLengthAsync(tag);
        }

        Assert.Equal(Entries, held);
        var seen = fleet[1].Near().Invalidations;
        var servers = redis.Primaries;
        long calls = 0;
        foreach (var server in servers)
        {
            calls -= await ScriptCallsAsync(server);
        }

        Assert.Equal(Entries, await fleet[0].Cache().EvictByTagAsync("items"));
        foreach (var server in servers)
        {
            calls += await ScriptCallsAsync(server);
        }

        // Bounded by count, not by time (a timed check flakes on a loaded host): one step deletes at most
        // EvictionBatch entries, so 100k entries took at least Entries / EvictionBatch script calls. The whole set in
        // one call, as before, was one call that blocked its shard for seconds.
        Assert.True(calls >= Entries / ResponseCacheStore.EvictionBatch, $"{calls} script calls for {Entries} entries");

        Assert.Empty(await redis.EntryKeysAsync(fleet));
        await CacheTestApp.EventuallyAsync(() => fleet[1].Near().Invalidations - seen >= Entries, "instance 1 saw every evicted key");
        Assert.All(fleet.Instances, i => Assert.True(i.Near().IsLive, "the near cache stayed subscribed"));

        // And the subscription still carries messages afterwards.
        var after = fleet[1].Near().Invalidations;
        await fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => fleet[1].Near().Invalidations > after, "instance 1 saw a later fill");
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheBoundedEvictionTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheBoundedEvictionTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheBoundedEvictionTestsOnCluster(RedisClusterFixture redis) : ResponseCacheBoundedEvictionTests(redis);
