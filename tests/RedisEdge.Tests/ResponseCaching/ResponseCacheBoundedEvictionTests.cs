using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Evicting a tag that holds 100k entries: bounded script calls and bounded messages.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheBoundedEvictionTests(RedisServerFixture redis)
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
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2, nearCache: true);
        await CacheTestApp.EventuallyAsync(() => fleet.Instances.All(i => i.Near().IsLive), "the near caches are live");
        var keys = fleet[0].Services.GetRequiredService<ResponseCacheKeys>();
        var policy = fleet[0].Services.GetRequiredService<ResponseCachePolicyProvider>().Current.Policies["items"];
        var tag = keys.Tag(policy, "items");

        // 100k stored entries in the tag set, written as fill.lua writes them, 10k per call.
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
        for (var from = 1; from <= Entries; from += 10_000)
        {
            await redis.Database.ScriptEvaluateAsync(populate, [tag], [from, from + 9_999]);
        }

        Assert.Equal(Entries, await redis.Database.SortedSetLengthAsync(tag));
        var seen = fleet[1].Near().Invalidations;
        var server = redis.Server;
        var threshold = (string)(await server.ConfigGetAsync("slowlog-log-slower-than")).Single().Value;
        await server.ConfigSetAsync("slowlog-log-slower-than", 10_000);
        try
        {
            await server.SlowlogResetAsync();
            var calls = await ScriptCallsAsync(server);
            Assert.Equal(Entries, await fleet[0].Cache().EvictByTagAsync("items"));
            calls = await ScriptCallsAsync(server) - calls;
            var slow = (await server.SlowlogGetAsync(1024))
                .Where(t => t.Arguments.Length > 0 && ((string)t.Arguments[0]!).StartsWith("EVAL", StringComparison.OrdinalIgnoreCase))
                .ToList();

            // One step deletes at most 128 entries: well under a millisecond of work (the whole set in one call, as before,
            // took seconds). On a shared 2-core host the redis-server process is sometimes preempted in the middle of a
            // step, which SLOWLOG counts too, so a handful of steps over the threshold is tolerated, none far over it.
            Assert.True(calls >= Entries / ResponseCacheStore.EvictionBatch, $"{calls} script calls");
            Assert.True(slow.Count <= calls / 100, $"{slow.Count} of {calls} script calls ran longer than 10 ms.");
            Assert.All(slow, t => Assert.True(t.Duration < TimeSpan.FromMilliseconds(50), $"a script call ran {t.Duration}."));
        }
        finally
        {
            await server.ConfigSetAsync("slowlog-log-slower-than", threshold);
        }

        Assert.Empty(await redis.EntryKeysAsync(fleet));
        await CacheTestApp.EventuallyAsync(() => fleet[1].Near().Invalidations - seen >= Entries, "instance 1 saw every evicted key");
        Assert.All(fleet.Instances, i => Assert.True(i.Near().IsLive, "the near cache stayed subscribed"));

        // And the subscription still carries messages afterwards.
        var after = fleet[1].Near().Invalidations;
        await fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => fleet[1].Near().Invalidations > after, "instance 1 saw a later fill");
    }
}
