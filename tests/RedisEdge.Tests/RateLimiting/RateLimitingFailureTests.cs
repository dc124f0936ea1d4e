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
    public async Task ReloadDroppingAPolicyAnEndpointUses_IsRefused_ThePreviousPoliciesStayInForce_LoggedOnce()
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
                    o.AddPolicy("gone", p => { p.PermitLimit = 3; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Global; });
                }
            },
            services: (builder, _) => builder.Logging.AddProvider(log));
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/x")).StatusCode);

        // A reload that no longer defines "gone" (removed or renamed) would silently lift its limit: it is refused.
        Volatile.Write(ref removed, true);
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();
        var statuses = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            var response = await fleet[0].Client.GetAsync("/x");
            statuses.Add((int)response.StatusCode);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Assert.Equal(["api", "gone"], StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitPolicyHeader))).Select(p => p.Item));
            }
        }

        Assert.Equal([200, 200, 429, 429, 429, 429, 429, 429, 429, 429], statuses);
        var refused = Assert.Single(log.Named("ReloadRefused"));
        Assert.Equal(LogLevel.Error, refused.Level);
        Assert.Contains("'gone' (endpoint 'HTTP: GET /x')", refused.Message, StringComparison.Ordinal);
        Assert.Empty(log.Named("UnknownPolicy"));
    }

    [Fact]
    public async Task LocalDenyCacheSize_Reloads()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        settings[$"{RateLimitTestApp.Section}:LocalDenyCacheSize"] = "0";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/x", () => "ok").RequireRateLimit("api"));
        var instance = fleet[0];
        var cache = instance.Services.GetRequiredService<LocalDenyCache>();
        Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/x")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await instance.Client.GetAsync("/x")).StatusCode);
        Assert.Equal(0, cache.Count); // a size of 0 remembers nothing

        var configuration = (IConfigurationRoot)instance.Services.GetRequiredService<IConfiguration>();
        configuration[$"{RateLimitTestApp.Section}:LocalDenyCacheSize"] = "100";
        configuration.Reload();

        Assert.Equal(HttpStatusCode.TooManyRequests, (await instance.Client.GetAsync("/x")).StatusCode);
        Assert.Equal(1, cache.Count);
        using var scope = instance.Commands.Begin();
        Assert.Equal(HttpStatusCode.TooManyRequests, (await instance.Client.GetAsync("/x")).StatusCode);
        Assert.Empty(scope.Commands);
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
