using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// The LocalFallback failure mode: while Redis cannot answer, each instance enforces its share of the limit in memory,
/// with the same fields and 429, and writes nothing to Redis; once Redis answers again it decides alone. A private
/// redis-server is paused (<c>CLIENT PAUSE WRITE</c>) for the outage; the breaker runs on a manual clock.
/// </summary>
public sealed class RateLimitingFallbackTests : PrivateRedisServerTests
{
    [Fact]
    public async Task LocalFallback_EnforcesTheInstancesShareDuringTheOutage_ThenRedisDecidesAgain_WithItsStateUntouched()
    {
        var clock = new ManualTimeProvider();
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 4, TimeSpan.FromDays(1), ("FailureMode", "LocalFallback"));
        settings[$"{RateLimitTestApp.Section}:InstanceCount"] = "2";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.300";
        settings[$"{RateLimitTestApp.Section}:Failure:BreakAfterFailures"] = "1";
        settings[$"{RateLimitTestApp.Section}:Failure:BreakDuration"] = "00:00:10";
        await using var fleet = await RateLimitTestApp.StartAsync(
            Server.Configuration,
            settings,
            (app, _) => app.MapGet("/r", () => "ok").RequireRateLimit("api"),
            services: (builder, _) => builder.Services.AddSingleton<TimeProvider>(clock));
        var client = fleet[0].Client;
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);
        var db = Admin.GetDatabase();

        // Redis decides: 1 of 4.
        var first = await client.GetAsync("/r");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(3L, Current(first)["r"]);
        var key = await SingleKeyAsync(fleet);
        Assert.Equal(1, (long)await db.HashGetAsync(key, "c"));

        var during = new List<HttpResponseMessage>();
        await PauseWritesAsync();
        try
        {
            // The first call times out and opens the breaker; from then on the instance decides alone, at 4 / 2.
            for (var i = 0; i < 3; i++)
            {
                during.Add(await client.GetAsync("/r"));
            }
        }
        finally
        {
            await UnpauseAsync();
        }

        Assert.Equal([200, 200, 429], during.Select(r => (int)r.StatusCode));
        Assert.All(during, r => Assert.Equal("\"api\";q=4;w=86400", string.Join(", ", r.Headers.GetValues(RedisRateLimitingDefaults.RateLimitPolicyHeader))));
        Assert.Equal([1L, 0L, 0L], during.Select(r => (long)Current(r)["r"]));
        Assert.NotNull(during[2].Headers.RetryAfter);
        var problem = JsonDocument.Parse(await during[2].Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["api"], problem.GetProperty("violated-policies").EnumerateArray().Select(e => e.GetString()));

        // The call that timed out still ran when Redis resumed (as any late call does); the fallback wrote nothing.
        for (var attempt = 0; attempt < 100 && (long)await db.HashGetAsync(key, "c") != 2; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(2, (long)await db.HashGetAsync(key, "c"));
        Assert.Equal(key, await SingleKeyAsync(fleet));

        // The breaker lets its probe through: Redis decides again from its own count, 2 of 4.
        clock.Advance(TimeSpan.FromSeconds(11));
        var back = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            back.Add(await client.GetAsync("/r"));
        }

        Assert.Equal([200, 200, 429], back.Select(r => (int)r.StatusCode));
        Assert.Equal([1L, 0L], back.Take(2).Select(r => (long)Current(r)["r"]));
        Assert.Equal(4, (long)await db.HashGetAsync(key, "c"));
        Assert.Equal(
            ["allowed", "fallback_allowed", "fallback_allowed", "fallback_rejected", "allowed", "allowed", "rejected"],
            decisions.Measurements.Select(m => (string)m.Tags[RedisRateLimitingDefaults.ResultTag]!));
        Assert.Equal(0, fleet[0].Services.GetRequiredService<LocalFallbackLimiter>().Count);
    }

    private async Task<string> SingleKeyAsync(RedisFleet fleet)
    {
        var keys = new List<string>();
        await foreach (var key in AdminServer.KeysAsync(pattern: fleet.KeyPrefix + ":*"))
        {
            keys.Add(key.ToString());
        }

        return Assert.Single(keys);
    }

    private static Dictionary<string, object> Current(HttpResponseMessage response) =>
        StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitHeader))).Single(p => p.Item == "api").Parameters;
}
