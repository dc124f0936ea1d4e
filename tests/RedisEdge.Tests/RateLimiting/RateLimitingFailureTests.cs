using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>Outages, configuration errors and a lost script cache: what the client gets, what is logged, what it costs.</summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingFailureTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task RedisOutageOf40Requests_LogsOnlyTheBreakerTransition_NoWarningPerRequest()
    {
        var log = new ListLogger();
        var settings = new Dictionary<string, string?>()
            .Policy("open", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("closed", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailClosed"));
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        settings[$"{RateLimitTestApp.Section}:Failure:BreakAfterFailures"] = "3";
        settings[$"{RateLimitTestApp.Section}:Failure:BreakDuration"] = "01:00:00";
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) =>
            {
                app.MapGet("/open", () => "ok").RequireRateLimit("open");
                app.MapGet("/closed", () => "ok").RequireRateLimit("closed");
            },
            services: (builder, _) => builder.Logging.AddProvider(log));

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/open")).StatusCode);
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await fleet[0].Client.GetAsync("/closed")).StatusCode);
        }

        var loud = log.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        Assert.True(loud.Count <= 2, "Logged per request: " + string.Join(" | ", loud.Select(e => $"{e.Level} {e.EventName}")));
        Assert.Single(log.Named("CircuitOpened"));
    }

    [Fact]
    public async Task EndpointNamingAPolicyARemovedFromConfiguration_IsReportedOnce()
    {
        var log = new ListLogger();
        var removed = false;
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/x", () => "ok").RequireRateLimit("api").RequireRateLimit("gone"),
            configure: o =>
            {
                if (!Volatile.Read(ref removed))
                {
                    o.AddPolicy("gone", p => { p.PermitLimit = 100; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Global; });
                }
            },
            services: (builder, _) => builder.Logging.AddProvider(log));
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/x")).StatusCode);

        Volatile.Write(ref removed, true);
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();
        for (var i = 0; i < 10; i++)
        {
            var response = await fleet[0].Client.GetAsync("/x");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(["api"], StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitPolicyHeader))).Select(p => p.Item));
        }

        Assert.Single(log.Named("UnknownPolicy"));
    }

    [Fact]
    public async Task OnRedisCluster_PoliciesInDifferentSlots_AreAConfigurationError_NeverAnOutageOrA500()
    {
        await using var cluster = await RedisClusterProcess.StartAsync(primaries: 3, replicasPerPrimary: 0);
        var log = new ListLogger();
        var time = new ManualTimeProvider();
        var settings = new Dictionary<string, string?>()
            .Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Ip"))
            .Policy("key", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"))
            .Policy("key-closed", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"), ("FailureMode", "FailClosed"));
        settings[$"{RateLimitTestApp.Section}:Failure:BreakAfterFailures"] = "2";
        settings[$"{RateLimitTestApp.Section}:Failure:BreakDuration"] = "00:00:05";
        await using var fleet = await RateLimitTestApp.StartAsync(
            cluster.Configuration,
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

    [Fact]
    public async Task ScriptCache_FirstUseCostsEvalAndScriptLoad_AFlushCostsOneExtraRoundTrip()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/x", () => "ok").RequireRateLimit("api"));

        // Client side: the commands each request waited for. Server side (INFO commandstats) over two requests, so a
        // SCRIPT LOAD StackExchange.Redis sends without waiting has certainly arrived by the second.
        async Task<int> Request()
        {
            using var scope = fleet[0].Commands.Begin();
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/x")).StatusCode);
            return scope.Commands.Count;
        }

        var before = await redis.CommandStatsAsync();
        Assert.Equal(1, await Request()); // first use on this instance: EVAL with the text, plus SCRIPT LOAD
        Assert.Equal(1, await Request()); // EVALSHA from then on
        var loaded = await redis.CommandStatsAsync();
        Assert.Equal((1L, 1L, 1L), Deltas(before, loaded));

        await redis.Server.ScriptFlushAsync();
        Assert.Equal(2, await Request()); // EVALSHA answered NOSCRIPT, then EVAL (and SCRIPT LOAD)
        Assert.Equal(1, await Request());
        Assert.Equal((2L, 1L, 1L), Deltas(loaded, await redis.CommandStatsAsync()));
    }

    private static (long EvalSha, long Eval, long ScriptLoad) Deltas(Dictionary<string, long> before, Dictionary<string, long> after)
    {
        long Delta(string command) => after.GetValueOrDefault(command) - before.GetValueOrDefault(command);
        return (Delta("evalsha"), Delta("eval"), Delta("script|load"));
    }
}
