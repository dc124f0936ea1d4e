using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

/// <summary>
/// The sample's MVC controller (Controllers/CatalogController.cs): the attribute-first way gives the same fleet-wide
/// behaviour as the minimal-API endpoints, on two replicas over one Redis.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SampleCatalogTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ControllerAttributes_CacheIdempotencyAndRateLimit_HoldAcrossTwoReplicas()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        await using var a = SampleApp.Create(redis, prefix);
        await using var b = SampleApp.Create(redis, prefix);
        var clients = new[] { a.CreateClient(), b.CreateClient() };

        // [CacheResponse("products")] on the action: the second replica serves the first one's render.
        using var miss = await clients[0].GetAsync("/catalog/7");
        using var hit = await clients[1].GetAsync("/catalog/7");
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Contains("hit", string.Join(",", hit.Headers.GetValues("Cache-Status")), StringComparison.Ordinal);
        Assert.Equal(
            (await miss.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("renderId").GetString(),
            (await hit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("renderId").GetString());

        // [Idempotent(Policy = "orders")] on the action: the retry on the other replica is the stored 201.
        var key = Guid.NewGuid().ToString();
        using var first = await clients[0].SendAsync(IdempotencyTestApp.Post("/catalog/orders", key, """{"item":"lamp","quantity":1}""", apiKey: "team-a"));
        using var retry = await clients[1].SendAsync(IdempotencyTestApp.Post("/catalog/orders", key, """{"item":"lamp","quantity":1}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.False(first.IsReplay());
        Assert.True(retry.IsReplay());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());

        // [RateLimit("sliding-log")] on the controller: 10 per minute for the fleet. The two GETs and the first POST above
        // count; the replay does not (idempotency runs before rate limiting and answered it). [DisableRateLimit] on an
        // action lifts the limit.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 8; i++)
        {
            statuses.Add((await clients[i % 2].GetAsync("/catalog/7")).StatusCode);
        }

        Assert.Equal(7, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await clients[i % 2].GetAsync("/catalog/status")).StatusCode);
        }
    }
}
