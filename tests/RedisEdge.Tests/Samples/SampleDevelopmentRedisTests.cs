using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Testing;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.ResponseCaching;

namespace RedisEdge.Tests.Samples;

/// <summary>
/// The sample's dev mode (DevelopmentRedis.cs): in Development, with no Redis answering, it starts the embedded
/// server, says so, and serves every feature; with a Redis answering, or outside Development, it never does.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SampleDevelopmentRedisTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Development_NoRedisAnswers_StartsTheEmbeddedServer_LogsIt_AndServesEveryFeature()
    {
        var unreachable = $"127.0.0.1:{ClosedPort()}";
        var log = new ListLogger();
        await using var factory = Sample("Development", unreachable, log);
        var client = factory.CreateClient();

        using (var health = JsonDocument.Parse(await client.GetStringAsync("/health")))
        {
            Assert.Equal("Healthy", health.RootElement.GetProperty("status").GetString());
        }

        var server = factory.Services.GetRequiredService<RedisEdgeTestServer>();
        var notice = Assert.Single(log.Named("EmbeddedRedisStarted"));
        Assert.Equal(LogLevel.Warning, notice.Level);
        Assert.Contains($"no Redis answered at '{unreachable}'", notice.Message, StringComparison.Ordinal);
        Assert.Contains(server.Configuration, notice.Message, StringComparison.Ordinal);
        Assert.Contains("For development only", notice.Message, StringComparison.Ordinal);

        // Sessions: login, then a [RequireSession] endpoint sees the user.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/session/login?user=alice", null)).StatusCode);
        using (var profile = JsonDocument.Parse(await client.GetStringAsync("/session/profile")))
        {
            Assert.Equal("alice", profile.RootElement.GetProperty("user").GetString());
        }

        // Rate limiting: fixed-window allows 10 a minute.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 11; i++)
        {
            statuses.Add((await client.GetAsync("/rate-limit/fixed-window")).StatusCode);
        }

        Assert.Equal(10, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);

        // Response caching: stored, then a hit.
        var first = await client.GetAsync("/products/3");
        var cached = await client.GetAsync("/products/3");
        Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", cached.CacheStatus(), StringComparison.Ordinal);

        // Idempotency: the retry is the stored response.
        var key = Guid.NewGuid().ToString();
        using var order = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-a"));
        using var retry = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, order.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.False(order.IsReplay());
        Assert.True(retry.IsReplay());
        Assert.Equal(
            (await order.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid(),
            (await retry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());
    }

    [Fact]
    public async Task Development_RedisAnswers_UsesIt_AndStartsNoEmbeddedServer()
    {
        var log = new ListLogger();
        await using var factory = Sample("Development", redis.Configuration, log);

        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().GetAsync("/health")).StatusCode);
        Assert.Null(factory.Services.GetService<RedisEdgeTestServer>());
        Assert.Empty(log.Named("EmbeddedRedisStarted"));
    }

    [Fact]
    public async Task Production_NoRedisAnswers_StartsNoEmbeddedServer_RedisIsUnhealthy()
    {
        var log = new ListLogger();
        await using var factory = Sample("Production", $"127.0.0.1:{ClosedPort()}", log);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await factory.CreateClient().GetAsync("/health")).StatusCode);
        Assert.Null(factory.Services.GetService<RedisEdgeTestServer>());
        Assert.Empty(log.Named("EmbeddedRedisStarted"));
    }

    private static WebApplicationFactory<Program> Sample(string environment, string redisConfiguration, ListLogger log) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment(environment);
            web.UseSetting("RedisEdge:Redis:Configuration", redisConfiguration);
            web.UseSetting("RedisEdge:Redis:KeyPrefix", RedisServerFixture.UniquePrefix());
            web.UseSetting("Telemetry:Exporter", "none");
            web.ConfigureLogging(logging => logging.AddProvider(log));
        });

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
