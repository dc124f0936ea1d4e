using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

/// <summary>
/// Kills and restarts a private redis-server (not the shared one) while RedisEdge is using it.
/// </summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(800);
    private RedisServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerProcess.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RedisKilledAndRestarted_BreakerBoundsWaitsAndScriptsRunAgainWithoutNoScript()
    {
        var policy = new RedisFailurePolicyOptions
        {
            Timeout = Budget,
            BreakAfterFailures = 2,
            BreakDuration = TimeSpan.FromMilliseconds(300),
        };
        await using var core = CoreTestServices.Create(_server.Configuration, policy);
        var key = core.Keys.Key("test", "outage", "counter");
        Assert.Equal(1, await Run(core, key));

        await _server.KillAsync();

        var failures = new List<RedisEdgeUnavailableException>();
        for (var i = 0; i < 6; i++)
        {
            var watch = Stopwatch.StartNew();
            failures.Add(await Assert.ThrowsAsync<RedisEdgeUnavailableException>(() => Run(core, key)));
            watch.Stop();

            // The budget is a contract, not a speed claim: no call may wait longer than the configured timeout.
            Assert.True(watch.Elapsed < Budget + TimeSpan.FromMilliseconds(400), $"Call {i} waited {watch.Elapsed}, over the {Budget} budget.");
        }

        Assert.True(core.Runner.IsCircuitOpen);
        Assert.Contains(failures, f => f.Message.Contains("circuit breaker", StringComparison.Ordinal));

        // A restarted server has an empty script cache: the first call after recovery meets NOSCRIPT internally.
        await _server.StartAgainAsync();
        var recovered = await EventuallyAsync(async () =>
        {
            try
            {
                return (long?)await Run(core, key);
            }
            catch (RedisEdgeUnavailableException)
            {
                return null;
            }
        });

        Assert.Equal(1, recovered);
        Assert.False(core.Runner.IsCircuitOpen);
        for (var i = 2; i <= 4; i++)
        {
            Assert.Equal(i, await Run(core, key));
        }
    }

    [Fact]
    public async Task HealthCheck_RedisKilledAndRestarted_UnhealthyThenHealthy()
    {
        await using var app = await StartHealthAppAsync(redis => redis.HealthCheckTimeout = TimeSpan.FromMilliseconds(500));
        var client = app.GetTestClient();

        Assert.Equal("Healthy", await client.GetStringAsync("/health"));

        await _server.KillAsync();
        var down = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Equal("Unhealthy", await down.Content.ReadAsStringAsync());

        await _server.StartAgainAsync();
        var status = await EventuallyAsync(async () =>
        {
            var response = await client.GetAsync("/health");
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : null;
        });
        Assert.Equal("Healthy", status);
    }

    /// <summary>
    /// Every failing probe used to log an error with a full trace. RedisEdge now logs the probe's state changes once
    /// each, and an unreachable Redis (an expected outage) carries no exception into any log entry or health report.
    /// </summary>
    [Fact]
    public async Task HealthCheck_Outage_LogsOncePerStateChange_WithoutStackTraces()
    {
        var log = new ListLogger();
        await using var app = await StartHealthAppAsync(redis => redis.HealthCheckTimeout = TimeSpan.FromMilliseconds(500), log);
        var client = app.GetTestClient();
        Assert.Equal("Healthy", await client.GetStringAsync("/health"));

        await _server.KillAsync();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health")).StatusCode);
        }

        await _server.StartAgainAsync();
        await EventuallyAsync(async () => (await client.GetAsync("/health")).StatusCode == HttpStatusCode.OK ? "up" : null);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("Healthy", await client.GetStringAsync("/health"));
        }

        var failed = Assert.Single(log.Named("HealthProbeFailed"));
        Assert.Null(failed.Exception);
        Assert.Contains("Redis did not answer PING (", failed.Message, StringComparison.Ordinal);
        Assert.Single(log.Named("HealthProbeRecovered"));
        Assert.DoesNotContain(log.Entries, e => e.Exception is not null);
    }

    [Fact]
    public async Task HealthCheck_PingSlowerThanHealthCheckDegradedLatency_IsDegraded_ThenHealthyAgain()
    {
        await using var app = await StartHealthAppAsync(redis =>
        {
            redis.HealthCheckTimeout = TimeSpan.FromSeconds(10);
            redis.HealthCheckDegradedLatency = TimeSpan.FromMilliseconds(200);
        });
        var client = app.GetTestClient();
        Assert.Equal("Healthy", await client.GetStringAsync("/health"));

        // A script that keeps Redis busy for 3 s (scripts run alone): the PING queued behind it answers, but far later
        // than the degraded latency. The script is sent on its own connection and let run before the check starts.
        await using var other = await ConnectionMultiplexer.ConnectAsync(_server.Configuration);
        const string Busy = "local t = redis.call('TIME'); local stop = t[1] * 1000000 + t[2] + 3000000; " +
            "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop; return 1";
        var busy = other.GetDatabase().ScriptEvaluateAsync(Busy);
        await Task.Delay(300);

        var slow = await client.GetAsync("/health");
        Assert.Equal(1, (int)await busy);
        Assert.Equal(HttpStatusCode.OK, slow.StatusCode);
        Assert.Equal("Degraded", await slow.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", await client.GetStringAsync("/health"));
    }

    [Fact]
    public async Task Start_RedisDown_HostStartsAndConnectsOnceRedisIsUp()
    {
        await _server.KillAsync();
        var builder = TestHost.CreateBuilder();
        builder.Services.AddRedisEdge(o => o.Redis.Configuration = _server.Configuration);
        await using var app = builder.Build();

        await app.StartAsync();

        var connection = app.Services.GetRequiredService<RedisEdge.Internal.RedisEdgeConnection>();
        Assert.False(connection.Multiplexer.IsConnected);
        var runner = new RedisEdge.Internal.RedisScriptRunner(
            connection,
            new RedisEdge.Internal.RedisFeatureTelemetry(app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), RedisEdgeTelemetryNames.Core),
            new RedisFailurePolicyOptions { Timeout = Budget },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var key = app.Services.GetRequiredService<RedisEdge.Internal.RedisKeyBuilder>().Key("test", "late", "counter");
        await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
            () => runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));

        await _server.StartAgainAsync();
        var value = await EventuallyAsync(async () =>
        {
            try
            {
                var result = await runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
                return (long?)(long)result[0];
            }
            catch (RedisEdgeUnavailableException)
            {
                return null;
            }
        });
        Assert.Equal(1, value);
    }

    private static async Task<long> Run(CoreTestServices core, RedisKey key)
    {
        var result = await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        return (long)result[0];
    }

    /// <summary>Polls until <paramref name="attempt"/> returns a value; reconnecting takes a client-chosen time.</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> attempt)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await attempt() is T value)
            {
                return value;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The condition did not hold within 30 s.");
    }

    /// <summary>An app over the private server with RedisEdge's health check at <c>/health</c>, started.</summary>
    private async Task<WebApplication> StartHealthAppAsync(Action<RedisEdgeRedisOptions> configure, ListLogger? log = null)
    {
        var builder = TestHost.CreateBuilder();
        if (log is not null)
        {
            builder.Logging.AddProvider(log);
            builder.Logging.SetMinimumLevel(LogLevel.Information);
        }

        builder.Services.AddRedisEdge(o =>
        {
            o.Redis.Configuration = _server.Configuration;
            configure(o.Redis);
        });
        builder.Services.AddHealthChecks().AddRedisEdge();
        var app = builder.Build();
        app.MapHealthChecks("/health");
        await app.StartAsync();
        return app;
    }
}
