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
}
