using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Idempotency;
using RedisEdge.RateLimiting;
using StackExchange.Redis;

namespace RedisEdge.Benchmarks;

/// <summary>
/// The one app that hosts every scenario's endpoint side by side (Kestrel on 127.0.0.1), so every ratio comes from
/// the same process, the same run and the same multiplexer. It runs as a child process of the harness
/// (<c>RedisEdge.Benchmarks app --redis host:port</c>); see <see cref="AppProcess"/> for why.
/// </summary>
/// <remarks>
/// Each feature's middleware sits in its own <c>UseWhen</c> branch keyed on a path prefix, so <c>/plain</c> passes
/// through no middleware but routing, and each feature's row measures that feature alone.
/// </remarks>
internal static class BenchmarkApp
{
    /// <summary>Written to standard output once Kestrel listens; the harness reads the address from it.</summary>
    public const string ListeningMarker = "BENCHMARK-APP-LISTENING ";

    /// <summary>Every limit of an accepted scenario: far above any rate this machine can produce, so nothing is refused.</summary>
    private const int Unlimited = 1_000_000_000;

    // The one-round-trip floor: two commands on one key in one script, the least any fleet-wide counter can do.
    private const string FloorScript = """
        local n = redis.call('INCR', KEYS[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return n
        """;

    private static readonly RedisKey[] FloorKeys = ["bench:floor:{hot}"];
    private static readonly RedisValue[] FloorArgs = [60_000];

    /// <summary>Runs the app; <paramref name="settings"/> are configuration overrides (<c>key=value</c>) for the rows that need them.</summary>
    public static async Task<int> RunAsync(string redisConfiguration, string[] settings)
    {
        var builder = WebApplication.CreateSlimBuilder(settings);
        // No log providers: what a production app logging at Warning pays for RedisEdge's (absent) per-request logs.
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        var redisOptions = ConfigurationOptions.Parse(redisConfiguration);
        redisOptions.AbortOnConnectFail = false;
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        builder.Services.AddSingleton<IConnectionMultiplexer>(multiplexer);

        builder.Services.AddRedisEdge(o => o.Redis.KeyPrefix = "bench")
            .AddRateLimiting(ConfigureRateLimiting)
            .AddSessions()
            .AddResponseCaching(o =>
            {
                // A day: every measured request after the priming one is a hit.
                o.AddPolicy("bench", p => { p.Expire = TimeSpan.FromDays(1); p.NearCache = false; });
                o.AddPolicy("bench-near", p => p.Expire = TimeSpan.FromDays(1));
                o.NearCache.Enabled = true;
            })
            .AddIdempotency(o => o.AnonymousFallback = RedisIdempotencyAnonymousFallback.ClientIp); // the load driver is anonymous

        // First-party Output Caching with its Redis store, the alternative users would otherwise pick.
        builder.Services.AddOutputCache(o => o.AddPolicy("bench", p => p.Expire(TimeSpan.FromDays(1))));
        builder.Services.AddStackExchangeRedisOutputCache(o =>
        {
            o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            o.InstanceName = "bench:oc:";
        });

        builder.Services.AddRateLimiter(o => o
            .AddFixedWindowLimiter("fixed", w =>
            {
                w.PermitLimit = Unlimited;
                w.Window = TimeSpan.FromSeconds(1);
                w.QueueLimit = 0;
            })

            // The first-party middleware enforcing RedisEdge's "fixed-window" policy (the /rl/fixed-window one), fleet-wide.
            .AddRedisEdgePolicy("fixed-window"));

        builder.Services.AddStackExchangeRedisCache(_ => { });
        builder.Services.AddOptions<RedisCacheOptions>().Configure(o =>
        {
            o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            o.InstanceName = "bench:fp:";
        });
        builder.Services.AddSession();

        var app = builder.Build();

        app.UseRouting();
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/rl"), b => b.UseRedisRateLimiting());
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/aspnet-rl"), b => b.UseRateLimiter());
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/session"), b => b.UseRedisSessions());
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/aspnet-session"), b => b.UseSession());
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/rc"), b => b.UseRedisResponseCaching());
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/aspnet-oc"), b => b.UseOutputCache());
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/idempotency"), b => b.UseRedisIdempotency());

        app.MapGet("/_bench/stats", (HttpContext context) => WriteStatsAsync(context, multiplexer));
        app.MapGet("/plain", () => "ok");
        app.MapGet("/floor", async () =>
        {
            await multiplexer.GetDatabase().ScriptEvaluateAsync(FloorScript, FloorKeys, FloorArgs);
            return "ok";
        });

        app.MapGet("/rl/fixed-window", () => "ok").RequireRateLimit("fixed-window");
        app.MapGet("/rl/sliding-log", () => "ok").RequireRateLimit("sliding-log");
        app.MapGet("/rl/sliding-counter", () => "ok").RequireRateLimit("sliding-counter");
        app.MapGet("/rl/token-bucket", () => "ok").RequireRateLimit("token-bucket");
        app.MapGet("/rl/gcra", () => "ok").RequireRateLimit("gcra");
        app.MapGet("/rl/three", () => "ok").RequireRateLimit("fixed-window").RequireRateLimit("token-bucket").RequireRateLimit("gcra");
        app.MapGet("/rl/denied", () => "ok").RequireRateLimit("exhausted");
        app.MapGet("/aspnet-rl/fixed-window", () => "ok").RequireRateLimiting("fixed");
        app.MapGet("/aspnet-rl/redisedge-fixed-window", () => "ok").RequireRateLimiting("fixed-window");

        app.MapGet("/rc/hit", () => "ok").CacheResponse("bench");
        app.MapGet("/rc/near-hit", () => "ok").CacheResponse("bench-near");
        app.MapGet("/aspnet-oc/hit", () => "ok").CacheOutput("bench");
        // Primed once with one key; every measured request is a replay of the stored response (one claim call).
        app.MapPost("/idempotency/orders", () => "ok").WithIdempotency();

        MapSessionEndpoints(app, "/session");
        MapSessionEndpoints(app, "/aspnet-session");

        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Console.WriteLine(ListeningMarker + address);

        // The harness ends the app by closing standard input (or by killing it when it no longer answers).
        await Task.Run(() => Console.In.ReadToEnd());
        await app.StopAsync();
        await multiplexer.DisposeAsync();
        return 0;
    }

    private static void ConfigureRateLimiting(RedisRateLimitingOptions options)
    {
        // Every accepted policy partitions by IP: every wrk connection comes from 127.0.0.1, so each policy has one
        // hot key, the case the per-decision cost matters most for.
        options.AddPolicy("fixed-window", p => Accepting(p, RedisRateLimitAlgorithm.FixedWindow));
        options.AddPolicy("sliding-log", p => Accepting(p, RedisRateLimitAlgorithm.SlidingWindowLog));
        options.AddPolicy("sliding-counter", p => Accepting(p, RedisRateLimitAlgorithm.SlidingWindowCounter));
        options.AddPolicy("token-bucket", p =>
        {
            Accepting(p, RedisRateLimitAlgorithm.TokenBucket);
            p.TokensPerPeriod = Unlimited;
        });
        options.AddPolicy("gcra", p => Accepting(p, RedisRateLimitAlgorithm.Gcra));

        // One token that refills after a year: the first request ever takes it, every later one is rejected, and
        // after one rejection from Redis the instance's local deny cache answers without Redis.
        options.AddPolicy("exhausted", p =>
        {
            p.Algorithm = RedisRateLimitAlgorithm.TokenBucket;
            p.PermitLimit = 1;
            p.TokensPerPeriod = 1;
            p.Window = TimeSpan.FromDays(366);
        });

        static void Accepting(RedisRateLimitPolicyOptions policy, RedisRateLimitAlgorithm algorithm)
        {
            policy.Algorithm = algorithm;
            policy.PermitLimit = Unlimited;
            // One second: the sliding log then holds one second of accepted requests, as a per-second API limit would.
            policy.Window = TimeSpan.FromSeconds(1);
        }
    }

    private static void MapSessionEndpoints(WebApplication app, string prefix)
    {
        // Every connection of a session scenario logs in once; the endpoints refuse a request without that session
        // (409), so a lost or unknown cookie shows up as an unexpected status instead of a fast empty read.
        app.MapPost(prefix + "/login", (HttpContext context) =>
        {
            context.Session.SetInt32("n", 1);
            return "ok";
        });
        app.MapGet(prefix + "/read", async (HttpContext context) =>
        {
            await context.Session.LoadAsync(context.RequestAborted);
            return context.Session.GetInt32("n") is null ? Results.Conflict() : Results.Text("ok");
        });
        app.MapPost(prefix + "/write", async (HttpContext context) =>
        {
            await context.Session.LoadAsync(context.RequestAborted);
            if (context.Session.GetInt32("n") is not { } n)
            {
                return Results.Conflict();
            }

            context.Session.SetInt32("n", n + 1);
            return Results.Text("ok");
        });
        // A request that carries the cookie but never touches the session.
        app.MapGet(prefix + "/untouched", () => "ok");

        // What most existing code does: a synchronous ISession read with no LoadAsync first.
        app.MapGet(prefix + "/read-sync", (HttpContext context) =>
            context.Session.GetInt32("n") is null ? Results.Conflict() : Results.Text("ok"));
    }

    private static Task WriteStatsAsync(HttpContext context, ConnectionMultiplexer multiplexer)
    {
        ThreadPool.GetAvailableThreads(out var availableWorkers, out _);
        ThreadPool.GetMaxThreads(out var maxWorkers, out _);
        var counters = multiplexer.GetCounters();
        var stats = new AppStats(
            GC.GetTotalAllocatedBytes(precise: true),
            counters.Interactive.OperationCount,
            ThreadPool.ThreadCount,
            maxWorkers - availableWorkers,
            ThreadPool.PendingWorkItemCount,
            GC.CollectionCount(0),
            GC.CollectionCount(2));
        context.Response.ContentType = "text/plain";
        return context.Response.WriteAsync(stats.Format());
    }
}
