using Microsoft.Extensions.Options;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>Running it: Redis outages, configuration reloads and metrics.</summary>
public sealed partial class RateLimitingMiddlewareTests
{
    [Fact]
    public async Task RedisUnreachable_FailsOpenByDefault_AndClosedWhenThePolicySaysSo()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("open", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("closed", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailClosed"));
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/open", () => "ok").RequireRateLimit("open");
            app.MapGet("/closed", () => "ok").RequireRateLimit("closed");
        });
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/open")).StatusCode);
        }

        var closed = await fleet[0].Client.GetAsync("/closed");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
        Assert.True(closed.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "A FailClosed 503 carries Retry-After.");
        Assert.Equal("application/problem+json", closed.Content.Headers.ContentType?.MediaType);
        Assert.Equal("closed", JsonDocument.Parse(await closed.Content.ReadAsStringAsync()).RootElement.GetProperty("policies")[0].GetString());
        Assert.All(decisions.Measurements, m => Assert.Equal("redis_error", m.Tags[RedisRateLimitingDefaults.ResultTag]));
        Assert.Equal(4, decisions.Measurements.Count);
    }

    [Fact]
    public async Task PolicyChangesInConfiguration_ApplyWithoutRestart()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/r", () => "ok").RequireRateLimit("api"));
        Assert.Equal([200, 200, 429], await Statuses(fleet, "/r", null, 3));

        var configuration = (IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>();
        configuration[$"{RateLimitTestApp.Section}:Policies:api:PermitLimit"] = "4";
        configuration.Reload();

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await fleet[0].Client.GetAsync("/r"));
        }

        // The locally remembered rejection was dropped with the old limits; the window's count carries on.
        Assert.Equal([200, 200, 429], responses.Select(r => (int)r.StatusCode));
        Assert.Equal(4L, Field(responses[0], RedisRateLimitingDefaults.RateLimitPolicyHeader, "api")["q"]);
    }

    [Fact]
    public async Task InvalidConfigurationReload_KeepsTheLastValidPoliciesInForce()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/r", () => "ok").RequireRateLimit("api"));
        Assert.Equal([200], await Statuses(fleet, "/r", null, 1));

        var configuration = (IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>();
        configuration[$"{RateLimitTestApp.Section}:Policies:api:PermitLimit"] = "-1";

        // Validation refuses the new values where the reload is raised; requests keep the last valid limit (2).
        var error = Assert.IsType<AggregateException>(Record.Exception(configuration.Reload));
        var validation = Assert.IsType<OptionsValidationException>(Assert.Single(error.Flatten().InnerExceptions));
        Assert.Contains("PermitLimit must be > 0", validation.Message, StringComparison.Ordinal);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 2; i++)
        {
            responses.Add(await fleet[0].Client.GetAsync("/r"));
        }

        Assert.Equal([200, 429], responses.Select(r => (int)r.StatusCode));
        Assert.Equal(2L, Field(responses[0], RedisRateLimitingDefaults.RateLimitPolicyHeader, "api")["q"]);
    }

    [Fact]
    public async Task Metrics_CountDecisionsByResult_AndRecordQueueDelay()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, TimeSpan.FromMilliseconds(200), ("MaxQueueDelay", "00:00:01"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/fw", () => "ok").RequireRateLimit("fw");
            app.MapGet("/q", () => "ok").RequireRateLimit("queue");
        });
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);
        using var delays = new MeasurementRecorder<double>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.QueueDelayInstrument);
        using var durations = new MeasurementRecorder<double>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestDurationInstrument);

        for (var i = 0; i < 3; i++)
        {
            await fleet[0].Client.GetAsync("/fw");
        }

        // Two requests at once on a 1-per-200 ms queue: both proceed, the second after waiting for its slot.
        var queued = await Task.WhenAll(fleet[0].Client.GetAsync("/q"), fleet[0].Client.GetAsync("/q"));
        Assert.All(queued, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var fw = decisions.Measurements.Where(m => (string)m.Tags[RedisRateLimitingDefaults.PolicyTag]! == "fw")
            .Select(m => (string)m.Tags[RedisRateLimitingDefaults.ResultTag]!).ToList();
        Assert.Equal(["allowed", "rejected", "local_deny"], fw);

        // The duration histogram has one measurement per counted request, with the same policy and result.
        static string Key(Dictionary<string, object?> tags) => $"{tags[RedisRateLimitingDefaults.PolicyTag]}/{tags[RedisRateLimitingDefaults.ResultTag]}";
        Assert.Equal(
            decisions.Measurements.Select(m => Key(m.Tags)).Order(StringComparer.Ordinal),
            durations.Measurements.Select(m => Key(m.Tags)).Order(StringComparer.Ordinal));
        Assert.All(durations.Measurements, m => Assert.True(m.Value >= 0));
        Assert.Equal(2, delays.Measurements.Count);
        Assert.Contains(delays.Measurements, m => m.Value > 0);
        Assert.All(delays.Measurements, m => Assert.InRange(m.Value, 0, 1));
    }
}
