using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>The evicting instance drops its own near-cache copies before the eviction returns; EvictAsync honours PathBase.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheOwnEvictionTests(RedisServerFixture redis)
{
    private const int Backlog = 20_000;

    [Fact]
    public async Task APutThenAGetOnOneInstance_NeverSeesTheEvictedNearCopy()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], nearCache: true, beforeCaching: (app, _) =>
            app.MapPut("/items/{id}", async (string id, IRedisResponseCache cache) => Results.Ok(await cache.EvictByTagAsync("item:" + id))));
        var instance = fleet[0];
        await CacheTestApp.EventuallyAsync(() => instance.Near().IsLive, "the near cache is live");

        var channel = instance.Services.GetRequiredService<ResponseCacheKeys>().Channel;
        var publisher = redis.Admin.GetSubscriber();
        for (var i = 0; i < 5; i++)
        {
            var path = "/items/" + i;
            var status = string.Empty;
            for (var attempt = 0; attempt < 400 && !status.Contains("detail=near", StringComparison.Ordinal); attempt++)
            {
                status = (await instance.Client.GetAsync(path)).CacheStatus();
            }

            Assert.Contains("detail=near", status, StringComparison.Ordinal);

            // A backlog of other messages ahead of the eviction's own: pub/sub delivers in order, so this instance hears
            // about its eviction only after it. The eviction must not depend on hearing it.
            var seen = instance.Near().Invalidations;
            await Task.WhenAll(Enumerable.Range(0, Backlog).Select(_ => publisher.PublishAsync(channel, "unrelated")));
            await instance.Client.PutAsync(path, null);
            var after = await instance.Client.GetAsync(path);
            Assert.StartsWith("RedisEdge; fwd=uri-miss", after.CacheStatus(), StringComparison.Ordinal);
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
