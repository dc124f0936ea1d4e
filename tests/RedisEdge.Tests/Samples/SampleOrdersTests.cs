using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

[Collection(RedisCollection.Name)]
public sealed class SampleOrdersTests(RedisServerFixture redis)
{
    [Fact]
    public async Task PostOrders_ExecutesOncePerKey_ReplaysRetries_RefusesAReusedKeyWithAnotherBody()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();
        var key = Guid.NewGuid().ToString();

        using var first = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var created = await first.Content.ReadFromJsonAsync<JsonElement>();
        var orderId = created.GetProperty("orderId").GetGuid();
        Assert.Equal($"/orders/{orderId}", first.Headers.Location?.OriginalString);
        Assert.False(string.IsNullOrEmpty(created.GetProperty("instance").GetString()));
        Assert.False(first.IsReplay());

        using var retry = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.True(retry.IsReplay());
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await retry.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);

        using var reused = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":2}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);

        // Another API key is another caller: the same key value is a new order.
        using var other = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-b"));
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        Assert.NotEqual(orderId, (await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());

        using var noKey = await client.SendAsync(IdempotencyTestApp.Post("/orders", null, apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);
        using var noApiKey = await client.SendAsync(IdempotencyTestApp.Post("/orders", Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.BadRequest, noApiKey.StatusCode);
        Assert.Contains("X-Api-Key", await noApiKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
