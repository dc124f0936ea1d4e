using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using RedisEdge;
using RedisEdge.Benchmarks;
using RedisEdge.RateLimiting;
using StackExchange.Redis;

// RedisEdge benchmark: each feature against the first-party ASP.NET Core equivalent, on Kestrel over loopback,
// against a private redis-server. Reports throughput, latency and Redis commands per request (server-side counts).
//   dotnet run -c Release --project tests/RedisEdge.Benchmarks -- [--requests 4000] [--concurrency 32]
var requests = IntArg("--requests", 4000);
var concurrency = IntArg("--concurrency", 32);
var limit = TimeSpan.FromSeconds(IntArg("--seconds", 60));

await using var redis = await BenchmarkRedis.StartAsync();
var scenarios = new List<Scenario>();
scenarios.Add(new Scenario("no middleware (baseline)", RateLimitApps.None, HttpMethod.Get, "/limited"));
foreach (var app in new[] { SessionApps.RedisEdge, SessionApps.FirstParty })
{
    scenarios.Add(new Scenario($"session read ({app.Name})", app, HttpMethod.Get, "/read", "alice"));
    scenarios.Add(new Scenario($"session read+write ({app.Name})", app, HttpMethod.Post, "/write"));
    scenarios.Add(new Scenario($"session untouched ({app.Name})", app, HttpMethod.Get, "/untouched"));
}

foreach (var app in new[] { RateLimitApps.RedisEdgeOnePolicy, RateLimitApps.RedisEdgeThreePolicies, RateLimitApps.InProcess })
{
    scenarios.Add(new Scenario($"rate limit, all accepted ({app.Name})", app, HttpMethod.Get, "/limited"));
}

Console.WriteLine($"RedisEdge benchmark: {requests} requests per scenario, {concurrency} concurrent clients, {Environment.ProcessorCount} cores, Redis {redis.Configuration}");
Console.WriteLine();
Console.WriteLine("| scenario | req/s | p50 ms | p99 ms | Redis commands / request | of which Lua scripts | wrong responses |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
var only = Array.IndexOf(args, "--only") is var o && o >= 0 ? args[o + 1] : null;
foreach (var scenario in scenarios.Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
{
    await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
    var profiler = new CommandProfiler(multiplexer);
    await using var app = await scenario.App.StartAsync(redis.Configuration, multiplexer);
    var baseAddress = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    var cookies = new List<string?>();
    // Each client logs in on its own, so each has its own session (no shared cookie container).
    using (var setup = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = baseAddress })
    {
        for (var i = 0; i < concurrency; i++)
        {
            cookies.Add(await scenario.App.LoginAsync(setup));
        }
    }

    if (scenario.App.LoginAsync != RateLimitApps.NoLogin && cookies.Distinct().Count() != concurrency)
    {
        throw new InvalidOperationException($"{scenario.Name}: expected {concurrency} distinct session cookies.");
    }

    // Warm-up loads scripts and connections; then only the measured run is counted.
    await LoadDriver.RunAsync(baseAddress, scenario.Path, scenario.Method, scenario.ExpectedBody, cookies, Math.Min(500, requests), limit);
    var scriptsBefore = await redis.ScriptCallsAsync();
    profiler.Start();
    var result = await LoadDriver.RunAsync(baseAddress, scenario.Path, scenario.Method, scenario.ExpectedBody, cookies, requests, limit);
    var commands = profiler.Stop();
    var scripts = await redis.ScriptCallsAsync() - scriptsBefore;
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"| {scenario.Name} | {result.RequestsPerSecond:F0} | {result.P50Ms:F2} | {result.P99Ms:F2} | {(double)commands / result.Requests:F2} | {(double)scripts / result.Requests:F2} | {result.Errors} |"));
}

int IntArg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

internal sealed record Scenario(string Name, BenchmarkApp App, HttpMethod Method, string Path, string ExpectedBody = "ok");

internal sealed record BenchmarkApp(string Name, Action<WebApplicationBuilder, string> ConfigureServices, Action<WebApplication> ConfigureApp, Func<HttpClient, Task<string?>> LoginAsync)
{
    public async Task<WebApplication> StartAsync(string redis, IConnectionMultiplexer multiplexer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(multiplexer);
        ConfigureServices(builder, redis);
        var app = builder.Build();
        ConfigureApp(app);
        await app.StartAsync();
        return app;
    }
}

internal static class SessionApps
{
    public static readonly BenchmarkApp RedisEdge = new(
        "RedisEdge",
        (builder, redis) => builder.Services.AddRedisEdge(o =>
        {
            o.Redis.Configuration = redis;
            o.Redis.KeyPrefix = "bench";
        }).AddSessions(),
        app =>
        {
            app.UseRedisSessions();
            MapEndpoints(app);
        },
        LoginAsync);

    public static readonly BenchmarkApp FirstParty = new(
        "Microsoft.AspNetCore.Session + IDistributedCache",
        (builder, redis) =>
        {
            builder.Services.AddStackExchangeRedisCache(_ => { });
            builder.Services.AddOptions<RedisCacheOptions>().Configure<IConnectionMultiplexer>((o, multiplexer) =>
            {
                o.ConnectionMultiplexerFactory = () => Task.FromResult(multiplexer);
                o.InstanceName = "fp:";
            });
            builder.Services.AddSession();
        },
        app =>
        {
            app.UseSession();
            MapEndpoints(app);
        },
        LoginAsync);

    private static void MapEndpoints(WebApplication app)
    {
        app.MapPost("/login", (HttpContext context) =>
        {
            context.Session.SetString("user", "alice");
            context.Session.SetInt32("n", 0);
            return "ok";
        });
        app.MapGet("/read", (HttpContext context) => context.Session.GetString("user") ?? "none");
        app.MapPost("/write", (HttpContext context) =>
        {
            context.Session.SetInt32("n", (context.Session.GetInt32("n") ?? 0) + 1);
            return "ok";
        });
        app.MapGet("/untouched", () => "ok");
    }

    private static async Task<string?> LoginAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/login", null);
        response.EnsureSuccessStatusCode();
        return response.Headers.TryGetValues("Set-Cookie", out var values) ? values.First().Split(';')[0] : null;
    }
}

internal static class RateLimitApps
{
    // Limits far above the request count, so every request is accepted and the cost measured is the decision itself.
    private const int Huge = 1_000_000_000;

    public static readonly Func<HttpClient, Task<string?>> NoLogin = _ => Task.FromResult<string?>(null);

    public static readonly BenchmarkApp None = new("none", (_, _) => { }, app => app.MapGet("/limited", () => "ok"), NoLogin);

    public static readonly BenchmarkApp RedisEdgeOnePolicy = RedisEdge("RedisEdge, 1 policy, fleet-wide", 1);

    public static readonly BenchmarkApp RedisEdgeThreePolicies = RedisEdge("RedisEdge, 3 policies, fleet-wide", 3);

    public static readonly BenchmarkApp InProcess = new(
        "Microsoft.AspNetCore.RateLimiting, per replica",
        (builder, _) => builder.Services.AddRateLimiter(o => o.AddFixedWindowLimiter("api", w =>
        {
            w.PermitLimit = Huge;
            w.Window = TimeSpan.FromMinutes(1);
        })),
        app =>
        {
            app.UseRateLimiter();
            app.MapGet("/limited", () => "ok").RequireRateLimiting("api");
        },
        NoLogin);

    private static BenchmarkApp RedisEdge(string name, int policies) => new(
        name,
        (builder, _) => builder.Services.AddRedisEdge(o => o.Redis.KeyPrefix = "bench").AddRateLimiting(o =>
        {
            o.AddPolicy("fixed", p =>
            {
                p.Algorithm = RedisRateLimitAlgorithm.FixedWindow;
                p.PermitLimit = Huge;
                p.Window = TimeSpan.FromMinutes(1);
            });
            o.AddPolicy("bucket", p =>
            {
                p.Algorithm = RedisRateLimitAlgorithm.TokenBucket;
                p.PermitLimit = Huge;
                p.TokensPerPeriod = Huge;
                p.Window = TimeSpan.FromSeconds(1);
            });
            o.AddPolicy("gcra", p =>
            {
                p.Algorithm = RedisRateLimitAlgorithm.Gcra;
                p.PermitLimit = Huge;
                p.Window = TimeSpan.FromSeconds(1);
            });
        }),
        app =>
        {
            app.UseRedisRateLimiting();
            var endpoint = app.MapGet("/limited", () => "ok").RequireRateLimit("fixed");
            if (policies > 1)
            {
                endpoint.RequireRateLimit("bucket").RequireRateLimit("gcra");
            }
        },
        NoLogin);
}
