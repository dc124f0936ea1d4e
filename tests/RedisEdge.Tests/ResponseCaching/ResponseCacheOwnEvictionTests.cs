using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.ResponseCaching;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>The evicting instance drops its own near-cache copies before the eviction returns; EvictAsync honours PathBase.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheOwnEvictionTests(RedisServerFixture redis)
{
    [Fact]
    public async Task APutThenAGetOnOneInstance_NeverSeesTheEvictedNearCopy()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], nearCache: true, beforeCaching: (app, _) =>
            app.MapPut("/items/{id}", async (string id, IRedisResponseCache cache) => Results.Ok(await cache.EvictTagAsync("item:" + id))));
        var instance = fleet[0];
        await CacheTestApp.EventuallyAsync(() => instance.Near().IsLive, "the near cache is live");

        for (var i = 0; i < 20; i++)
        {
            var path = "/items/" + i;
            var status = string.Empty;
            for (var attempt = 0; attempt < 200 && !status.Contains("detail=near", StringComparison.Ordinal); attempt++)
            {
                status = (await instance.Client.GetAsync(path)).CacheStatus();
            }

            Assert.Contains("detail=near", status, StringComparison.Ordinal);
            await instance.Client.PutAsync(path, null);
            var after = await instance.Client.GetAsync(path);
            Assert.StartsWith("RedisEdge; fwd=uri-miss", after.CacheStatus(), StringComparison.Ordinal);
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
