using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Redis unreachable: the origin answers (FailOpen), or 503 with Retry-After (FailClosed); never a 500.</summary>
public sealed class ResponseCachingOutageTests : IAsyncLifetime
{
    private RedisServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerProcess.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RedisDown_FailOpen_RunsTheHandlerAndSkipsTheCache_ThenCachesAgainWhenBack()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>
        {
            [$"{CacheTestApp.Section}:Failure:Timeout"] = "00:00:00.500",
            [$"{CacheTestApp.Section}:Failure:BreakDuration"] = "00:00:00.200",
        };
        await using var fleet = await CacheTestApp.StartAsync(_server.Configuration, origin, settings, nearCache: true);
        var client = fleet[0].Client;
        await client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => fleet[0].Near().IsLive, "the near cache is live");
        var meter = fleet[0].Services.GetRequiredService<ResponseCachingMetrics>().Telemetry.Meter;
        using var bypasses = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.BypassesInstrument);
        using var requests = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.RequestsInstrument);

        await _server.KillAsync();
        await CacheTestApp.EventuallyAsync(() => !fleet[0].Near().IsLive, "the near cache suspended itself");
        for (var i = 0; i < 8; i++)
        {
            var response = await client.GetAsync("/items/1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("RedisEdge; fwd=bypass; detail=redis-unavailable", response.CacheStatus());
        }

        // The header keeps its kebab-case detail; metric values are snake_case.
        Assert.Equal(8, bypasses.Measurements.Count);
        Assert.All(bypasses.Measurements, m => Assert.Equal("redis_unavailable", m.Tags[RedisResponseCachingDefaults.ReasonTag]));
        Assert.Equal(8, requests.Measurements.Count);
        Assert.All(requests.Measurements, m => Assert.Equal("redis_unavailable", m.Tags[RedisResponseCachingDefaults.ResultTag]));

        Assert.Equal(9, origin.Executions);

        await _server.StartAgainAsync();
        await CacheTestApp.EventuallyAsync(() => fleet[0].Near().IsLive, "the near cache resynchronised");
        string status = string.Empty;
        for (var i = 0; i < 100 && !status.Contains("stored", StringComparison.Ordinal); i++)
        {
            status = (await client.GetAsync("/items/1")).CacheStatus();
            await Task.Delay(50);
        }

        Assert.Contains("hit", (await client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The subscription's loss and restoration are logged once each, however many connection events and one-a-second
    /// resubscription attempts the outage takes, and with no stack trace: an unreachable Redis is an expected outage.
    /// </summary>
    [Fact]
    public async Task SubscriptionLostAndRestored_LogsOncePerStateChange_WithoutStackTraces()
    {
        var log = new ListLogger();
        await using var fleet = await CacheTestApp.StartAsync(
            _server.Configuration, new Origin(), [], nearCache: true, services: b => b.Logging.SetMinimumLevel(LogLevel.Information), logger: log);
        await CacheTestApp.EventuallyAsync(() => fleet[0].Near().IsLive, "the near cache is live");

        await _server.KillAsync();
        await CacheTestApp.EventuallyAsync(() => !fleet[0].Near().IsLive, "the near cache suspended itself");
        await Task.Delay(TimeSpan.FromSeconds(4)); // several resynchronisation attempts while Redis stays down
        await _server.StartAgainAsync();
        await CacheTestApp.EventuallyAsync(() => fleet[0].Near().IsLive, "the near cache resynchronised");

        Assert.Single(log.Entries, e => e.EventName is "SubscriptionLost" or "SubscribeFailed");
        Assert.Single(log.Named("SubscriptionRestored"));
        Assert.DoesNotContain(log.Entries, e => e.Exception is RedisConnectionException or RedisTimeoutException or TimeoutException);
    }

    /// <summary>An app started while Redis is down retries its subscription every second: one warning, not one a second.</summary>
    [Fact]
    public async Task StartedWhileRedisDown_SubscribeFailureLoggedOnce_ThenRestoredOnce()
    {
        await _server.KillAsync();
        var log = new ListLogger();
        await using var fleet = await CacheTestApp.StartAsync(
            _server.Configuration, new Origin(), [], nearCache: true, services: b => b.Logging.SetMinimumLevel(LogLevel.Information), logger: log);
        await Task.Delay(TimeSpan.FromSeconds(4)); // several resubscription attempts
        Assert.False(fleet[0].Near().IsLive);

        await _server.StartAgainAsync();
        await CacheTestApp.EventuallyAsync(() => fleet[0].Near().IsLive, "the near cache resynchronised");

        var failed = Assert.Single(log.Entries, e => e.EventName is "SubscriptionLost" or "SubscribeFailed");
        Assert.Null(failed.Exception);
        Assert.Single(log.Named("SubscriptionRestored"));
        Assert.DoesNotContain(log.Entries, e => e.Exception is RedisConnectionException or RedisTimeoutException or TimeoutException);
    }

    [Fact]
    public async Task RedisDown_FailClosed_Answers503WithRetryAfter()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>
        {
            [$"{CacheTestApp.Section}:Failure:Mode"] = "FailClosed",
            [$"{CacheTestApp.Section}:Failure:Timeout"] = "00:00:00.500",
        };
        await using var fleet = await CacheTestApp.StartAsync(_server.Configuration, origin, settings);
        await _server.KillAsync();
        var response = await fleet[0].Client.GetAsync("/items/1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, origin.Executions);
    }
}
