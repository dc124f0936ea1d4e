using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>What a client reads from a decision: the <c>RateLimit</c> headers, <c>Retry-After</c> and the rejection body.</summary>
public sealed partial class RateLimitingMiddlewareTests
{
    [Fact]
    public async Task Headers_ParseAsStructuredFieldLists_OnAcceptedAndRejectedResponses()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, TimeSpan.FromSeconds(60))
            .Policy("burst", RedisRateLimitAlgorithm.TokenBucket, 5, TimeSpan.FromSeconds(10))
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 3);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
            app.MapGet("/h", () => "ok").RequireRateLimit("api").RequireRateLimit("burst").RequireRateLimit("conc"));

        var first = await fleet[0].Client.GetAsync("/h");
        var policy = StructuredFieldList.Parse(Header(first, RedisRateLimitingDefaults.RateLimitPolicyHeader));
        Assert.Equal(["api", "burst", "conc"], policy.Select(p => p.Item));
        Assert.Equal(2L, policy[0].Parameters["q"]);
        Assert.Equal(60L, policy[0].Parameters["w"]);
        Assert.Equal(5L, policy[1].Parameters["q"]);
        Assert.Equal(10L, policy[1].Parameters["w"]);
        Assert.Equal(3L, policy[2].Parameters["q"]);
        Assert.Equal("concurrent-requests", policy[2].Parameters["qu"]);
        Assert.False(policy[2].Parameters.ContainsKey("w"));
        var current = StructuredFieldList.Parse(Header(first, RedisRateLimitingDefaults.RateLimitHeader));
        Assert.Equal(1L, current[0].Parameters["r"]);
        Assert.InRange((long)current[0].Parameters["t"], 1, 60);
        Assert.Equal(4L, current[1].Parameters["r"]);
        Assert.Equal(2L, current[2].Parameters["r"]);
        Assert.False(current[2].Parameters.ContainsKey("t"));

        await fleet[0].Client.GetAsync("/h");
        var rejected = await fleet[0].Client.GetAsync("/h");
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);

        // A 429's RateLimit names the policies that refused; RateLimit-Policy still lists every policy that applied.
        Assert.Equal(["api", "burst", "conc"], StructuredFieldList.Parse(Header(rejected, RedisRateLimitingDefaults.RateLimitPolicyHeader)).Select(p => p.Item));
        var after = Assert.Single(StructuredFieldList.Parse(Header(rejected, RedisRateLimitingDefaults.RateLimitHeader)));
        Assert.Equal("api", after.Item);
        Assert.Equal(0L, after.Parameters["r"]);
        Assert.InRange((long)after.Parameters["t"], 1, 60);
        Assert.Equal((long)after.Parameters["t"], (long)rejected.Headers.RetryAfter!.Delta!.Value.TotalSeconds);
    }

    [Fact]
    public async Task Headers_CanBeTurnedOff()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        settings[$"{RateLimitTestApp.Section}:EmitRateLimitHeaders"] = "false";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/h", () => "ok").RequireRateLimit("api"));
        var response = await fleet[0].Client.GetAsync("/h");
        Assert.False(response.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));
        Assert.False(response.Headers.Contains(RedisRateLimitingDefaults.RateLimitPolicyHeader));
    }

    [Fact]
    public async Task RetryAfter_IsWhenTheNextRequestIsReallyAccepted_ForEveryAlgorithm()
    {
        var second = TimeSpan.FromSeconds(1);
        var settings = new Dictionary<string, string?>()
            .Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 2, second)
            .Policy("swl", RedisRateLimitAlgorithm.SlidingWindowLog, 2, second)
            .Policy("swc", RedisRateLimitAlgorithm.SlidingWindowCounter, 2, second)
            .Policy("tb", RedisRateLimitAlgorithm.TokenBucket, 2, second)
            .Policy("gcra", RedisRateLimitAlgorithm.Gcra, 2, second);
        var names = new[] { "fw", "swl", "swc", "tb", "gcra" };
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            foreach (var name in names)
            {
                app.MapGet("/" + name, () => "ok").RequireRateLimit(name);
            }
        });

        await Task.WhenAll(names.Select(async name =>
        {
            var client = fleet[0].Client;
            HttpResponseMessage response;
            var attempts = 0;
            while ((response = await client.GetAsync("/" + name)).StatusCode == HttpStatusCode.OK)
            {
                Assert.True(++attempts < 20, $"{name} never rejected.");
            }

            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            var retryAfter = response.Headers.RetryAfter?.Delta ?? throw new Xunit.Sdk.XunitException($"{name}: no Retry-After.");
            var retryMs = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("retryAfterMs").GetInt64();
            Assert.InRange(retryMs, 1, (long)retryAfter.TotalMilliseconds);
            Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));

            // .NET timers count whole milliseconds, so Task.Delay(1 s) can end up to 1 ms short of a second; a sliding
            // log rejected within a millisecond of its oldest entry then still sees it (failed a CI run once). 20 ms
            // covers that and is nothing next to Retry-After's whole seconds.
            await Task.Delay(retryAfter + TimeSpan.FromMilliseconds(20));
            var retried = await client.GetAsync("/" + name);
            Assert.True(retried.StatusCode == HttpStatusCode.OK, $"{name}: still {retried.StatusCode} after waiting Retry-After {retryAfter}.");
        }));
    }

    [Fact]
    public async Task RetryAfterJitter_AddsAtMostTheJitter()
    {
        var settings = new Dictionary<string, string?>().Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        settings[$"{RateLimitTestApp.Section}:RetryAfterJitter"] = "00:00:30";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/j", () => "ok").RequireRateLimit("fw"));
        await fleet[0].Client.GetAsync("/j");
        var rejected = await fleet[0].Client.GetAsync("/j");
        var retryMs = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync()).RootElement.GetProperty("retryAfterMs").GetInt64();
        var header = rejected.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
        Assert.InRange(header, Math.Ceiling(retryMs / 1000.0), Math.Ceiling(retryMs / 1000.0) + 30);
    }

    [Fact]
    public async Task Rejection_UsesTheAppsProblemDetailsService()
    {
        var settings = new Dictionary<string, string?>().Policy("one", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/p", () => "ok").RequireRateLimit("one"),
            services: (builder, _) => builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["node"] = "sample"));
        await fleet[0].Client.GetAsync("/p");
        var rejected = await fleet[0].Client.GetAsync("/p");

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(429, body.GetProperty("status").GetInt32());
        Assert.Equal("sample", body.GetProperty("node").GetString());
        Assert.Equal("one", body.GetProperty("violated-policies")[0].GetString());
        Assert.Equal(RedisRateLimitingDefaults.QuotaExceededProblemType, body.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Rejection_WithoutProblemDetailsService_IsStillProblemJson_AndOnRejectedCanReplaceIt()
    {
        var settings = new Dictionary<string, string?>().Policy("one", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/p", () => "ok").RequireRateLimit("one");
            app.MapGet("/custom", () => "ok").RequireRateLimit("one");
        }, configure: o => o.OnRejected = async (context, ct) =>
        {
            if (context.HttpContext.Request.Path == "/custom")
            {
                Assert.Equal("one", context.Decisions.Single().PolicyName);
                Assert.NotNull(context.RetryAfter);
                await context.HttpContext.Response.WriteAsync("slow down", ct);
            }
        });
        await fleet[0].Client.GetAsync("/p");
        var plain = await fleet[0].Client.GetAsync("/p");
        Assert.Equal("application/problem+json", plain.Content.Headers.ContentType?.MediaType);
        var custom = await fleet[0].Client.GetAsync("/custom");
        Assert.Equal(HttpStatusCode.TooManyRequests, custom.StatusCode);
        Assert.Equal("slow down", await custom.Content.ReadAsStringAsync());
    }
}
