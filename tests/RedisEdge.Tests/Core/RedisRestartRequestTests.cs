using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.Sessions;

namespace RedisEdge.Tests.Core;

/// <summary>
/// Kills and restarts a private redis-server under a fleet that uses two features, both fail-closed, so a
/// NOSCRIPT error escaping to a request would show as a 503 rather than being hidden by fail-open.
/// </summary>
public sealed class RedisRestartRequestTests : IAsyncLifetime
{
    private RedisServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerProcess.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RedisKilledAndRestarted_RequestsFailClearlyThenRecover_NoScriptNeverReachesARequest()
    {
        var settings = new Dictionary<string, string?>
        {
            // A breaker that never opens here, so every request after the restart really goes to Redis.
            ["RedisEdge:Sessions:Failure:Timeout"] = "00:00:02",
            ["RedisEdge:Sessions:Failure:BreakAfterFailures"] = "1000",
            ["RedisEdge:RateLimiting:Failure:Timeout"] = "00:00:02",
            ["RedisEdge:RateLimiting:Failure:BreakAfterFailures"] = "1000",
            ["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "FixedWindow",
            ["RedisEdge:RateLimiting:Policies:api:PermitLimit"] = "1000",
            ["RedisEdge:RateLimiting:Policies:api:Window"] = "01:00:00",
            ["RedisEdge:RateLimiting:Policies:api:Partition"] = "Global",
            ["RedisEdge:RateLimiting:Policies:api:FailureMode"] = "FailClosed",
        };
        await using var fleet = await RedisFleet.StartAsync(
            _server.Configuration,
            instances: 2,
            (builder, _) =>
            {
                builder.Services.AddRedisEdge().AddSessions().AddRateLimiting();
                builder.Services.AddHealthChecks().AddRedisEdge();
            },
            (app, _) =>
            {
                app.UseRedisRateLimiting();
                app.UseRedisSessions();
                app.MapHealthChecks("/health");
                app.MapPost("/visit", (HttpContext context) =>
                {
                    var visits = (context.Session.GetInt32("visits") ?? 0) + 1;
                    context.Session.SetInt32("visits", visits);
                    return visits.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }).RequireRateLimit("api");
            },
            settings);
        var browser = new SessionBrowser();
        Assert.Equal("1", await browser.PostAsync(fleet[0], "/visit"));
        Assert.Equal("2", await browser.PostAsync(fleet[1], "/visit"));

        await _server.KillAsync();
        foreach (var instance in fleet.Instances)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.SendAsync(instance, HttpMethod.Post, "/visit")).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await instance.Client.GetAsync("/health")).StatusCode);
        }

        // The restarted server has no scripts and (no persistence) no sessions: the next visit starts a new session.
        await _server.StartAgainAsync();
        foreach (var instance in fleet.Instances)
        {
            await EventuallyHealthyAsync(instance);
        }

        var after = new List<(HttpStatusCode Status, string Body)>();
        for (var i = 0; i < 6; i++)
        {
            using var response = await browser.SendAsync(fleet[i % 2], HttpMethod.Post, "/visit");
            after.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        Assert.Equal(Enumerable.Range(1, 6).Select(n => (HttpStatusCode.OK, n.ToString(System.Globalization.CultureInfo.InvariantCulture))), after);
    }

    /// <summary>Polls (bounded) until the instance's health check and its multiplexer see Redis again.</summary>
    private static async Task EventuallyHealthyAsync(RedisFleetInstance instance)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if (instance.Multiplexer.IsConnected && (await instance.Client.GetAsync("/health")).StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Instance {instance.Index} did not see Redis again within 30 s.");
    }
}
