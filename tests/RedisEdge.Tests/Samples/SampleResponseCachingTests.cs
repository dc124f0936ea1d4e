using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.ResponseCaching;
using StackExchange.Redis;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample's product endpoints as the issue specifies them, with appsettings.json's "products" policy.</summary>
public abstract class SampleResponseCachingTests(RedisTestServer redis)
{
    [Fact]
    public async Task Products_CachedUntilAPriceUpdateEvictsThem_ThenStaleIfErrorDuringAnOutage()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        await using var factory = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        var client = factory.CreateClient();

        var first = await client.GetAsync("/products/7");
        var cached = await client.GetAsync("/products/7");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", cached.CacheStatus(), StringComparison.Ordinal);
        var (firstRender, firstPrice) = await ReadAsync(first);
        Assert.Equal((firstRender, firstPrice), await ReadAsync(cached));

        var put = await client.PutAsync("/products/7?price=42.5", null);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(1, (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("evicted").GetInt64());
        var updated = await client.GetAsync("/products/7");
        var (updatedRender, updatedPrice) = await ReadAsync(updated);
        Assert.Equal(42.5m, updatedPrice);
        Assert.NotEqual(firstRender, updatedRender);

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync("/products/7?price=lots", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/products/origin-outage", null)).StatusCode);

        // Outage: once the entry is past its 10 s, the origin's 500 is replaced by the last good copy for 60 s.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/products/origin-outage?on=true", null)).StatusCode);
        var key = (await redis.KeysAsync(prefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(41));
        var stale = await client.GetAsync("/products/7");
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Contains("detail=stale-if-error", stale.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(updatedRender, (await ReadAsync(stale)).RenderId);

        await redis.AgeAsync(key, TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/products/7")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/products/origin-outage?on=false", null)).StatusCode);
        await redis.Database.KeyDeleteAsync((RedisKey)key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products/7")).StatusCode);
    }

    [Fact]
    public async Task APriceUpdateDuringAColdFillsRender_LeavesNoOldPriceCached_OnAnyInstance()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        await using var a = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        await using var b = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        var fleet = new[] { a.CreateClient(), b.CreateClient() };

        // The PUT is sent while the cold GET renders. Whether it lands after the GET read the price is up to the
        // scheduler; the attempts go on until one did (the GET answered the old price), and every attempt must leave
        // only the new price cached.
        var raced = false;
        for (var attempt = 0; attempt < 20 && !raced; attempt++)
        {
            var id = 900 + attempt;
            var newPrice = 5000m + attempt;
            var cold = fleet[0].GetAsync($"/products/{id}");
            await Task.Delay(60);
            Assert.Equal(HttpStatusCode.OK, (await fleet[1].PutAsync($"/products/{id}?price={newPrice}", null)).StatusCode);
            var (_, coldPrice) = await ReadAsync(await cold);
            raced = coldPrice != newPrice;

            foreach (var client in fleet.Concat(fleet))
            {
                var later = await client.GetAsync($"/products/{id}");
                Assert.Equal(HttpStatusCode.OK, later.StatusCode);
                Assert.Equal(newPrice, (await ReadAsync(later)).Price);
            }
        }

        Assert.True(raced, "no attempt had the PUT land during the cold GET's render");
    }

    private static async Task<(string RenderId, decimal Price)> ReadAsync(HttpResponseMessage response)
    {
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("renderId").GetString()!, json.GetProperty("price").GetDecimal());
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class SampleResponseCachingTestsOnSingleNode(RedisServerFixture redis) : SampleResponseCachingTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class SampleResponseCachingTestsOnCluster(RedisClusterFixture redis) : SampleResponseCachingTests(redis);
