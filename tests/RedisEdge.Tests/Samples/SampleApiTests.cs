using System.Net;
using System.Text.Json;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

[Collection(RedisCollection.Name)]
public sealed class SampleApiTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Health_ReportsRedisHealthyWithLatency()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();

        var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        var check = body.RootElement.GetProperty("checks").GetProperty("redisedge");
        Assert.True(check.GetProperty("data").GetProperty("latency_ms").GetDouble() >= 0);
    }

    [Fact]
    public async Task Root_ListsEveryFeaturesEndpoints_EachOnItsOwnLine()
    {
        await using var factory = SampleApp.Create(redis);
        var lines = (await factory.CreateClient().GetStringAsync("/")).Split('\n').Select(l => l.Trim()).ToList();

        foreach (var endpoint in new[] { "GET /health", "POST /session/login", "GET /rate-limit/fixed-window", "GET /rate-limit/api-key", "GET  /products/{id}", "PUT  /products/{id}", "POST /products/origin-outage", "POST /orders" })
        {
            Assert.Single(lines, l => l.StartsWith(endpoint, StringComparison.Ordinal));
        }
    }
}
