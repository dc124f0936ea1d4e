using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using RedisEdge.RateLimiting;

namespace RedisEdge.Samples.Api;

/// <summary>One endpoint per rate-limit algorithm; the policies live in appsettings.json (RedisEdge:RateLimiting).</summary>
internal static class SampleRateLimiting
{
    public static readonly string Usage =
        """
          GET /rate-limit/fixed-window     10 per minute per client IP (FixedWindow)
          GET /rate-limit/sliding-log      10 per minute, exact sliding window (SlidingWindowLog)
          GET /rate-limit/sliding-counter  10 per minute, blended windows (SlidingWindowCounter)
          GET /rate-limit/token-bucket     bursts of 5, refilled 1 per second (TokenBucket)
          GET /rate-limit/gcra             5 per 10 s, burst 2 (Gcra meter)
          GET /rate-limit/gcra-queue       2 per second; waits up to 2 s for a slot (Gcra queue)
          GET /rate-limit/concurrency      2 in flight fleet-wide; each request takes 2 s (Concurrency)
          GET /rate-limit/api-key          X-Api-Key header: 3 per minute, "gold" gets 100, "banned" is refused
        """;

    public static IRedisEdgeBuilder AddSampleRateLimiting(this IRedisEdgeBuilder builder, IConfiguration configuration)
    {
        // The IP policies need the client's address, not the balancer's. UseForwardedHeaders with default options
        // processes nothing; take X-Forwarded-For, and only from the proxies listed in ForwardedHeaders:KnownProxies
        // (anyone else could claim any address and get a fresh quota per request).
        builder.Services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            options.KnownIPNetworks.Clear();
            options.KnownProxies.Clear();
            foreach (var proxy in configuration.GetSection("ForwardedHeaders:KnownProxies").Get<string[]>() ?? [])
            {
                options.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        });
        return builder.AddRateLimiting();
    }

    /// <summary>One endpoint per algorithm (the middleware is placed in Program.cs, after UseForwardedHeaders).</summary>
    public static WebApplication MapSampleRateLimiting(this WebApplication app)
    {
        var group = app.MapGroup("/rate-limit");
        group.MapGet("/fixed-window", () => "fixed window: accepted").RequireRateLimit("fixed-window");
        group.MapGet("/sliding-log", () => "sliding log: accepted").RequireRateLimit("sliding-log");
        group.MapGet("/sliding-counter", () => "sliding counter: accepted").RequireRateLimit("sliding-counter");
        group.MapGet("/token-bucket", () => "token bucket: accepted").RequireRateLimit("token-bucket");
        group.MapGet("/gcra", () => "gcra: accepted").RequireRateLimit("gcra");
        group.MapGet("/gcra-queue", () => "gcra queue: accepted (possibly after waiting for a slot)").RequireRateLimit("gcra-queue");
        group.MapGet("/concurrency", async (CancellationToken ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            return "concurrency: done";
        }).RequireRateLimit("concurrency");
        group.MapGet("/api-key", () => "api key: accepted").RequireRateLimit("api-key");
        return app;
    }
}
