using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>Rate limiting on the shared real Redis Cluster: what a combination of policies in different slots gets.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RateLimitingClusterTests(RedisClusterFixture cluster)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task OnRedisCluster_PoliciesInDifferentSlots_AreAConfigurationError_NeverAnOutageOrA500()
    {
        var log = new ListLogger();
        var time = new ManualTimeProvider();
        var settings = new Dictionary<string, string?>()
            .Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Ip"))
            .Policy("key", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"))
            .Policy("key-closed", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"), ("FailureMode", "FailClosed"));
        settings[$"{RateLimitTestApp.Section}:Failure:BreakAfterFailures"] = "2";
        settings[$"{RateLimitTestApp.Section}:Failure:BreakDuration"] = "00:00:05";
        await using var fleet = await RateLimitTestApp.StartAsync(
            cluster.Cluster.Configuration,
            settings,
            (app, _) =>
            {
                app.MapGet("/mixed", () => "ok").RequireRateLimit("ip").RequireRateLimit("key");
                app.MapGet("/mixed-closed", () => "ok").RequireRateLimit("ip").RequireRateLimit("key-closed");
                app.MapGet("/ip", () => "ok").RequireRateLimit("ip");
            },
            services: (builder, _) =>
            {
                builder.Logging.AddProvider(log);
                builder.Services.AddSingleton<TimeProvider>(time);
            },
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
                context.Request.Headers["X-Api-Key"] = "k1";
                return next(context);
            }));
        var client = fleet[0].Client;
        var runner = fleet[0].Services.GetRequiredService<RedisRateLimiter>().Runner;

        // Redis answers CROSSSLOT: FailOpen admits, the breaker is not fed, the error is logged once as configuration.
        for (var i = 0; i < 5; i++)
        {
            var mixed = await client.GetAsync("/mixed");
            Assert.Equal(HttpStatusCode.OK, mixed.StatusCode);
            Assert.False(mixed.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));
        }

        Assert.False(runner.IsCircuitOpen);
        var error = Assert.Single(log.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal("ClientCommandError", error.EventName);
        Assert.Contains("CROSSSLOT", error.Message + error.Exception, StringComparison.Ordinal);

        // FailClosed: a 503 that says what is wrong, with Retry-After.
        var closed = await client.GetAsync("/mixed-closed");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
        Assert.NotNull(closed.Headers.RetryAfter);
        var detail = JsonDocument.Parse(await closed.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString();
        Assert.Contains("misconfigured", detail, StringComparison.Ordinal);
        Assert.Contains("SingleHashSlot", detail, StringComparison.Ordinal);

        // Redis itself is fine.
        Assert.True((await client.GetAsync("/ip")).Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));

        // Half-open, the probe meets CROSSSLOT: it is given back, so the next call closes the breaker.
        runner.Breaker.OnFailure();
        runner.Breaker.OnFailure();
        Assert.True(runner.IsCircuitOpen);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/mixed")).StatusCode);
        Assert.True((await client.GetAsync("/ip")).Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));
        Assert.False(runner.IsCircuitOpen);
    }
}
