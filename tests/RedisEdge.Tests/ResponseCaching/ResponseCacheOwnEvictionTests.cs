using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>The evicting instance drops its own near-cache copies before the eviction returns; EvictAsync honours PathBase.</summary>
public abstract class ResponseCacheOwnEvictionTests(RedisTestServer redis)
{
    private const int Backlog = 20_000;

    [Fact]
    public async Task APutThenAGetOnOneInstance_NeverSeesTheEvictedNearCopy()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>();
        var policies = settings.PoliciesOnEveryPrimary(redis);
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, nearCache: true, beforeCaching: (app, _) =>
            app.MapPut("/items/{id}", async (string id, IRedisResponseCache cache) => Results.Ok(await cache.EvictByTagAsync("item:" + id))),
            afterCaching: app => origin.MapPolicies(app, policies));
        var instance = fleet[0];
        await CacheTestApp.EventuallyAsync(() => instance.Near().IsLive, "the near cache is live");

        var channel = instance.Services.GetRequiredService<ResponseCacheKeys>().Channel;
        var publisher = redis.Admin.GetSubscriber();
        for (var i = 0; i < 5; i++)
        {
            // The tag item:{i} is held by one policy per primary: on the cluster the PUT's eviction spans every shard.
            var paths = policies.Select(p => $"/{p}/{i}").ToList();
            foreach (var path in paths)
            {
                var status = string.Empty;
                for (var attempt = 0; attempt < 400 && !status.Contains("detail=near", StringComparison.Ordinal); attempt++)
                {
                    status = (await instance.Client.GetAsync(path)).CacheStatus();
                }

                Assert.Contains("detail=near", status, StringComparison.Ordinal);
            }

            if (i == 0)
            {
                var entries = await redis.EntryKeysAsync(fleet);
                Assert.Equal(redis.Primaries.Count, entries.Select(k => redis.PrimaryOf(k)).Distinct().Count());
            }

            // A backlog of other messages ahead of the eviction's own: pub/sub delivers in order, so this instance hears
            // about its eviction only after it. The eviction must not depend on hearing it.
            var seen = instance.Near().Invalidations;
            await Task.WhenAll(Enumerable.Range(0, Backlog).Select(_ => publisher.PublishAsync(channel, "unrelated")));
            var put = await instance.Client.PutAsync(paths[0], null);
            Assert.Equal(policies.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), await put.Content.ReadAsStringAsync());
            foreach (var path in paths)
            {
                var after = await instance.Client.GetAsync(path);
                Assert.StartsWith("RedisEdge; fwd=uri-miss", after.CacheStatus(), StringComparison.Ordinal);
            }

            await CacheTestApp.EventuallyAsync(() => instance.Near().Invalidations >= seen + Backlog, "the backlog was delivered");
        }
    }

    [Fact]
    public async Task EvictAsync_FindsEntriesOfAnAppUnderAPathBase()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], beforeCaching: (app, _) =>
        {
            app.UsePathBase("/shop");
            app.UseRouting();
        });
        var client = fleet[0].Client;
        await client.GetAsync("/shop/items/1");
        Assert.StartsWith("RedisEdge; hit", (await client.GetAsync("/shop/items/1")).CacheStatus(), StringComparison.Ordinal);

        Assert.Equal(1, await fleet[0].Cache().EvictAsync("items", "/items/1"));
        Assert.StartsWith("RedisEdge; fwd=uri-miss", (await client.GetAsync("/shop/items/1")).CacheStatus(), StringComparison.Ordinal);
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheOwnEvictionTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheOwnEvictionTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheOwnEvictionTestsOnCluster(RedisClusterFixture redis) : ResponseCacheOwnEvictionTests(redis);
