using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Idempotency;
using RedisEdge.Internal;
using RedisEdge.Idempotency.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.RateLimiting;
using RedisEdge.Tests.ResponseCaching;
using RedisEdge.Tests.Sessions;

namespace RedisEdge.Tests.Core;

/// <summary>
/// The skeleton Core owns for every feature, tested through each feature: the failure mode read from the current options
/// (a reload changes what an outage does), and the one rule for a policy name that is not defined.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class FeatureSkeletonTests(RedisServerFixture redis)
{
    // A port nothing listens on: every script call fails fast with a connection error.
    private const string Unreachable = "127.0.0.1:1,abortConnect=false,connectTimeout=200,connectRetry=0";

    private static Dictionary<string, string?> Outage(string section, string mode) => new()
    {
        ["RedisEdge:Redis:Configuration"] = Unreachable,
        [$"{section}:Failure:Mode"] = mode,
        [$"{section}:Failure:Timeout"] = "00:00:00.200",
        [$"{section}:Failure:BreakAfterFailures"] = "2",
        [$"{section}:Failure:BreakDuration"] = "01:00:00",
    };

    private static void Reload(RedisFleetInstance instance, string key, string value)
    {
        var configuration = (IConfigurationRoot)instance.Services.GetRequiredService<IConfiguration>();
        configuration[key] = value;
        configuration.Reload();
    }

    [Fact]
    public async Task RateLimiting_FailureModeReloaded_DuringAnOutage_TheNextRequestsFollowIt()
    {
        var settings = Outage(RateLimitTestApp.Section, "FailClosed").Policy("api", RedisRateLimitAlgorithm.FixedWindow, 1, TimeSpan.FromHours(1));
        await using var fleet = await RateLimitTestApp.StartAsync(redis.Configuration, settings, (app, _) => app.MapGet("/x", () => "ok").RequireRateLimit("api"));
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await fleet[0].Client.GetAsync("/x")).StatusCode);
        }

        Reload(fleet[0], $"{RateLimitTestApp.Section}:Failure:Mode", "FailOpen");
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await fleet[0].Client.GetAsync("/x")).StatusCode);
        }

        Reload(fleet[0], $"{RateLimitTestApp.Section}:Failure:Mode", "FailClosed");
        statuses.Add((await fleet[0].Client.GetAsync("/x")).StatusCode);
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.ServiceUnavailable, 3), .. Enumerable.Repeat(HttpStatusCode.OK, 3), HttpStatusCode.ServiceUnavailable], statuses);
    }

    [Fact]
    public async Task Idempotency_FailureModeReloaded_DuringAnOutage_TheNextRequestsFollowIt()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => Interlocked.Increment(ref executions)).WithIdempotency(),
            settings: Outage(IdempotencyTestApp.Section, "FailClosed"));
        using var decided = new MeasurementRecorder<long>(
            fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter, RedisFeatureTelemetry.FailureModeRequestsName);

        var closed = await fleet[0].PostAsync("/payments", "k-reload");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
        Assert.NotNull(closed.Headers.RetryAfter);
        Assert.Equal(0, executions);

        // Captured at start-up before: the handler never ran, whatever the configuration said later.
        Reload(fleet[0], $"{IdempotencyTestApp.Section}:Failure:Mode", "FailOpen");
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/payments", "k-reload")).StatusCode);
        Assert.Equal(1, executions);

        Reload(fleet[0], $"{IdempotencyTestApp.Section}:Failure:Mode", "FailClosed");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await fleet[0].PostAsync("/payments", "k-reload")).StatusCode);
        Assert.Equal(1, executions);

        // Counted once per request by Core's responder, with the mode it applied.
        Assert.Equal(["fail_closed", "fail_open", "fail_closed"], decided.Measurements.Select(m => (string)m.Tags[RedisFeatureTelemetry.FailureModeTag]!));
        Assert.All(decided.Measurements, m => Assert.Equal(IdempotencyPolicy.DefaultName, m.Tags[RedisFeatureTelemetry.PolicyTag]));
    }

    [Fact]
    public async Task ResponseCaching_FailureModeReloaded_DuringAnOutage_TheNextRequestsFollowIt()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(Unreachable, origin, Outage(CacheTestApp.Section, "FailClosed"));

        var closed = await fleet[0].Client.GetAsync("/items/1");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
        Assert.NotNull(closed.Headers.RetryAfter);
        Assert.Equal(0, origin.Executions);

        Reload(fleet[0], $"{CacheTestApp.Section}:Failure:Mode", "FailOpen");
        var open = await fleet[0].Client.GetAsync("/items/1");
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        Assert.Equal("RedisEdge; fwd=bypass; detail=redis-unavailable", open.CacheStatus());
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task Sessions_FailureModeReloaded_DuringAnOutage_TheNextRequestsFollowIt()
    {
        await using var fleet = await SessionTestApp.StartAsync(Unreachable, 1, Outage("RedisEdge:Sessions", "FailClosed"));
        var browser = new SessionBrowser { Cookie = RedisSessionIds.Create() };

        using (var closed = await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
            Assert.NotNull(closed.Headers.RetryAfter);
        }

        // Captured at start-up before: reads kept failing closed until a restart.
        Reload(fleet[0], "RedisEdge:Sessions:Failure:Mode", "FailOpen");
        using (var open = await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k"))
        {
            Assert.Equal(HttpStatusCode.OK, open.StatusCode);
            Assert.Equal("(null)", await open.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task RateLimiting_EndpointAppearingAfterStartUpWithAnUnknownPolicy_RunsWithoutIt_LoggedOnce()
    {
        var log = new ListLogger();
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 10, TimeSpan.FromHours(1));
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis, settings, (app, _) => app.MapGet("/x", () => "ok").RequireRateLimit("api"), services: (builder, _) => builder.Logging.AddProvider(log));
        var provider = fleet[0].Services.GetRequiredService<RateLimitPolicyProvider>();
        var late = new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new RateLimitAttribute("api"), new RateLimitAttribute("gone")), "late endpoint");

        for (var i = 0; i < 5; i++)
        {
            var requested = provider.Resolve(late, provider.Current)!;
            Assert.Equal(["api"], requested.Select(r => r.Policy.Name));
        }

        var unknown = Assert.Single(log.Named("UnknownPolicy"));
        Assert.Contains("'late endpoint' names rate-limit policy 'gone'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Idempotency_EndpointAppearingAfterStartUpWithAnUnknownPolicy_RunsWithTheFeatureOptions_LoggedOnce()
    {
        var log = new ListLogger();
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => "ok").WithIdempotency(),
            services: (builder, _) => builder.Logging.AddProvider(log));
        var provider = fleet[0].Services.GetRequiredService<IdempotencyPolicyProvider>();
        var late = new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new IdempotentAttribute { Policy = "gone" }), "late endpoint");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(IdempotencyPolicy.DefaultName, provider.Resolve(late, provider.Current)!.Name);
        }

        var unknown = Assert.Single(log.Named("UnknownPolicy"));
        Assert.Contains("'late endpoint' names idempotency policy 'gone'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResponseCaching_EndpointAppearingAfterStartUpWithAnUnknownPolicy_IsNotCached_LoggedOnce()
    {
        var log = new ListLogger();
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), [], logger: log);
        var provider = fleet[0].Services.GetRequiredService<ResponseCachePolicyProvider>();
        var late = new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new CacheResponseAttribute("gone")), "late endpoint");
        var known = new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new CacheResponseAttribute("items")), "known endpoint");

        for (var i = 0; i < 5; i++)
        {
            Assert.Null(provider.Resolve(late, provider.Current));
            Assert.Equal("items", provider.Resolve(known, provider.Current)!.Name);
        }

        var unknown = Assert.Single(log.Named("UnknownPolicy"));
        Assert.Contains("'late endpoint' names response-cache policy 'gone'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Idempotency_ReloadDroppingAPolicyAnEndpointUses_IsRefused_ThePolicyStaysInForce_LoggedOnce()
    {
        var log = new ListLogger();
        var removed = false;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => "ok").WithIdempotency("strict"),
            configure: o =>
            {
                if (!Volatile.Read(ref removed))
                {
                    o.AddPolicy("strict", p => p.HeaderName = "X-Strict-Key");
                }
            },
            services: (builder, _) => builder.Logging.AddProvider(log));

        Volatile.Write(ref removed, true);
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();

        var provider = fleet[0].Services.GetRequiredService<IdempotencyPolicyProvider>();
        Assert.True(provider.Current.Defines("strict"));
        var refused = Assert.Single(log.Named("ReloadRefused"));
        Assert.Equal(LogLevel.Error, refused.Level);
        Assert.Contains("'strict' (endpoint 'HTTP: POST /payments')", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResponseCaching_ReloadDroppingAPolicyAnEndpointUses_IsRefused_ThePolicyStaysInForce_LoggedOnce()
    {
        var log = new ListLogger();
        var removed = false;
        await using var fleet = await CacheTestApp.StartAsync(
            redis,
            new Origin(),
            [],
            services: builder => builder.Services.Configure<RedisResponseCachingOptions>(o =>
            {
                if (!Volatile.Read(ref removed))
                {
                    o.AddPolicy("extra", p => p.Expire = TimeSpan.FromMinutes(1));
                }
            }),
            afterCaching: app => app.MapGet("/extra", () => "ok").CacheResponse("extra"),
            logger: log);

        Volatile.Write(ref removed, true);
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();

        Assert.True(fleet[0].Services.GetRequiredService<ResponseCachePolicyProvider>().Current.Defines("extra"));
        var refused = Assert.Single(log.Named("ReloadRefused"));
        Assert.Contains("'extra' (endpoint 'HTTP: GET /extra')", refused.Message, StringComparison.Ordinal);
        Assert.Contains("stored", (await fleet[0].Client.GetAsync("/extra")).CacheStatus(), StringComparison.Ordinal);
    }

    /// <summary>Opens the breaker (single server: the one every call uses) as consecutive failures would.</summary>
    private static void OpenBreaker(RedisScriptRunner runner)
    {
        for (var i = 0; i < RedisEdgeDefaults.BreakAfterFailures; i++)
        {
            runner.Breaker.OnFailure();
        }

        Assert.True(runner.IsCircuitOpen);
        Assert.False(runner.Breaker.TryEnter());
    }

    [Fact]
    public async Task RateLimiting_ConcurrencyLeaseReleasedWhileTheBreakerIsOpen_StillLands()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new Dictionary<string, string?>().Policy("conc", RedisRateLimitAlgorithm.Concurrency, 1);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/slow", async () =>
        {
            entered.TrySetResult();
            await hold.Task;
            return "ok";
        }).RequireRateLimit("conc"));

        var request = fleet[0].Client.GetAsync("/slow");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, await LeasesAsync(fleet));

        var runner = fleet[0].Services.GetRequiredService<RedisRateLimiter>().Runner;
        OpenBreaker(runner);
        hold.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await request).StatusCode);

        // The release is sent in the background: wait for Redis to show it, bounded.
        for (var i = 0; i < 200 && await LeasesAsync(fleet) != 0; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(0, await LeasesAsync(fleet));
        Assert.True(runner.IsCircuitOpen, "The release closed the breaker: a settlement must not count as its probe.");
    }

    private async Task<long> LeasesAsync(RedisFleet fleet)
    {
        await using var connection = await redis.ConnectAsync();
        var database = connection.GetDatabase();
        long leases = 0;
        foreach (var key in await redis.KeysAsync(fleet.KeyPrefix + ":rl:"))
        {
            if (await database.KeyTypeAsync(key) == StackExchange.Redis.RedisType.SortedSet)
            {
                leases += await database.SortedSetLengthAsync(key);
            }
        }

        return leases;
    }

    [Fact]
    public async Task ResponseCaching_FillWhileTheBreakerIsOpen_StillLands()
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);

        var request = fleet[0].Client.GetAsync("/items/1");
        for (var i = 0; i < 400 && origin.Started == 0; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(1, origin.Started);

        var runner = fleet[0].Services.GetRequiredService<ResponseCacheStore>().Runner;
        OpenBreaker(runner);
        origin.Gate.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await request).StatusCode);

        Assert.True(runner.IsCircuitOpen, "The fill closed the breaker: a settlement must not count as its probe.");

        // The other instance, whose breaker is closed, is served the stored response: the fill landed.
        var hit = await fleet[1].Client.GetAsync("/items/1");
        Assert.Contains("hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1, origin.Executions);
    }
}
