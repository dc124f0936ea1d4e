using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>The fields of draft-ietf-httpapi-ratelimit-headers as the server sends them, against real Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingHeaderTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task TokenBucket10Per60s_EleventhRequest_TIsTheWaitForOneToken_RetryAfterMatches_LocalDenyAgrees()
    {
        var settings = new Dictionary<string, string?>().Policy("tb", RedisRateLimitAlgorithm.TokenBucket, 10, TimeSpan.FromSeconds(60));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/tb", () => "ok").RequireRateLimit("tb"));
        var client = fleet[0].Client;
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/tb")).StatusCode);
        }

        HttpResponseMessage fromRedis;
        using (var scope = fleet[0].Commands.Begin())
        {
            fromRedis = await client.GetAsync("/tb");
            Assert.Equal(["EVAL"], scope.Commands);
        }

        // One token comes back every 6 s: that, not the 60 s until the bucket is full, is when the request could succeed.
        Assert.Equal(HttpStatusCode.TooManyRequests, fromRedis.StatusCode);
        var t = T(fromRedis, "tb");
        Assert.InRange(t, 1, 6);
        Assert.Equal(t, RetryAfter(fromRedis));
        Assert.Equal(0L, Field(fromRedis, RedisRateLimitingDefaults.RateLimitHeader, "tb")["r"]);

        HttpResponseMessage local;
        using (var scope = fleet[0].Commands.Begin())
        {
            local = await client.GetAsync("/tb");
            Assert.Empty(scope.Commands);
        }

        // The same state reported the same way without Redis: the wait for a token, counted down since. (Redis' answer
        // used to say 60, the time until the bucket is full, while this one said the wait.)
        Assert.Equal(HttpStatusCode.TooManyRequests, local.StatusCode);
        Assert.InRange(T(local, "tb"), 1, t);
        Assert.Equal(T(local, "tb"), RetryAfter(local));
    }

    [Fact]
    public async Task TwoViolatedPolicies_RetryAfterIsNeverBeforeAnyT()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("minute", RedisRateLimitAlgorithm.SlidingWindowLog, 1, TimeSpan.FromMinutes(1))
            .Policy("gcra", RedisRateLimitAlgorithm.Gcra, 1, TimeSpan.FromSeconds(20));
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/two", () => "ok").RequireRateLimit("minute").RequireRateLimit("gcra"),
            configure: o => o.LocalDenyCache = false);
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/two")).StatusCode);

        var rejected = await fleet[0].Client.GetAsync("/two");
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        var current = StructuredFieldList.Parse(string.Join(", ", rejected.Headers.GetValues(RedisRateLimitingDefaults.RateLimitHeader)));
        Assert.Equal(["minute", "gcra"], current.Select(c => c.Item));
        Assert.Equal(current.Max(c => (long)c.Parameters["t"]), RetryAfter(rejected));
        Assert.InRange((long)current[0].Parameters["t"], 21, 60);
    }

    [Fact]
    public async Task TokenBucket_AdvertisesItsCapacityOverItsRefillTime_SoRNeverExceedsQ()
    {
        // A bucket of 5 refilled 1 per second: q=5 per w=5 s is its sustained rate, and r (up to 5) never exceeds q.
        var settings = new Dictionary<string, string?>()
            .Policy("tb", RedisRateLimitAlgorithm.TokenBucket, 5, TimeSpan.FromSeconds(1), ("TokensPerPeriod", "1"))
            .Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 7, TimeSpan.FromSeconds(90));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/tb", () => "ok").RequireRateLimit("tb").RequireRateLimit("fw"));
        var response = await fleet[0].Client.GetAsync("/tb");
        Assert.Equal(5L, Field(response, RedisRateLimitingDefaults.RateLimitPolicyHeader, "tb")["q"]);
        Assert.Equal(5L, Field(response, RedisRateLimitingDefaults.RateLimitPolicyHeader, "tb")["w"]);
        Assert.Equal(4L, Field(response, RedisRateLimitingDefaults.RateLimitHeader, "tb")["r"]);
        Assert.Equal(7L, Field(response, RedisRateLimitingDefaults.RateLimitPolicyHeader, "fw")["q"]);
        Assert.Equal(90L, Field(response, RedisRateLimitingDefaults.RateLimitPolicyHeader, "fw")["w"]);
    }

    [Fact]
    public async Task T_IsTheWindowInWhichNoMoreThanRMayBeUsed_ForTokenBucketAndGcra()
    {
        // 5 per hour, bursts of 5: after three requests r=2, and the next permit comes back within 720 s (an hour / 5),
        // long before the 2,160 s until the bucket is full again.
        var settings = new Dictionary<string, string?>()
            .Policy("tb", RedisRateLimitAlgorithm.TokenBucket, 5, Hour)
            .Policy("gcra", RedisRateLimitAlgorithm.Gcra, 5, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/tb", () => "ok").RequireRateLimit("tb");
            app.MapGet("/gcra", () => "ok").RequireRateLimit("gcra");
        });
        foreach (var name in new[] { "tb", "gcra" })
        {
            HttpResponseMessage response = null!;
            for (var i = 0; i < 3; i++)
            {
                response = await fleet[0].Client.GetAsync("/" + name);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            Assert.Equal(2L, Field(response, RedisRateLimitingDefaults.RateLimitHeader, name)["r"]);
            Assert.InRange(T(response, name), 1, 720);
        }
    }

    [Fact]
    public async Task ConcurrencyRetryAfter_IsNotTheBlockingLeasesExpiry()
    {
        // The slot frees when the holder's request ends, any moment now: Retry-After is 1 s, not the lease's 60 s.
        var settings = new Dictionary<string, string?>().Policy("conc", RedisRateLimitAlgorithm.Concurrency, 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/c", async (HttpContext context) =>
        {
            if (context.Request.Query.ContainsKey("hold"))
            {
                holding.TrySetResult();
                await release.Task;
            }

            return "ok";
        }).RequireRateLimit("conc"));
        var held = fleet[0].Client.GetAsync("/c?hold=1");
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var rejected = await fleet[0].Client.GetAsync("/c");
        release.TrySetResult();
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(1L, RetryAfter(rejected));
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
    }

    [Fact]
    public async Task RetryAfterJitterOfHalfASecond_DoesNotAlwaysAddAWholeSecond()
    {
        // GCRA of 1 per 3.4 s: a rejection right after the first request is retryable in about 3,400 ms, 4 s rounded
        // up; 0.5 s of jitter can never take that past 4 s (it used to add a whole second every time: 5 s).
        var settings = new Dictionary<string, string?>().Policy("gcra", RedisRateLimitAlgorithm.Gcra, 1, TimeSpan.FromMilliseconds(3400));
        settings[$"{RateLimitTestApp.Section}:RetryAfterJitter"] = "00:00:00.500";
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/g", () => "ok").RequireRateLimit("gcra"),
            configure: o => o.LocalDenyCache = false);
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/g")).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            var rejected = await fleet[0].Client.GetAsync("/g");
            Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
            var retryMs = System.Text.Json.JsonDocument.Parse(await rejected.Content.ReadAsStringAsync()).RootElement.GetProperty("retryAfterMs").GetInt64();
            Assert.InRange(RetryAfter(rejected), (retryMs + 999) / 1000, (retryMs + 500 + 999) / 1000);
        }
    }

    [Fact]
    public async Task ShadowPolicies_AreNeverAdvertised()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 10, Hour)
            .Policy("trial", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Mode", "Shadow"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/both", () => "ok").RequireRateLimit("api").RequireRateLimit("trial");
            app.MapGet("/shadow", () => "ok").RequireRateLimit("trial");
        });

        for (var i = 0; i < 2; i++)
        {
            var both = await fleet[0].Client.GetAsync("/both");
            Assert.Equal(HttpStatusCode.OK, both.StatusCode);
            Assert.Equal(["api"], Items(both, RedisRateLimitingDefaults.RateLimitPolicyHeader));
            Assert.Equal(["api"], Items(both, RedisRateLimitingDefaults.RateLimitHeader));
        }

        var shadow = await fleet[0].Client.GetAsync("/shadow");
        Assert.Equal(HttpStatusCode.OK, shadow.StatusCode);
        Assert.False(shadow.Headers.Contains(RedisRateLimitingDefaults.RateLimitPolicyHeader));
        Assert.False(shadow.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));
    }

    [Fact]
    public async Task Concurrency_AdvertisesConcurrentRequests_WithoutWindowOrReset()
    {
        var settings = new Dictionary<string, string?>().Policy("conc", RedisRateLimitAlgorithm.Concurrency, 2);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/c", () => "ok").RequireRateLimit("conc"));
        var response = await fleet[0].Client.GetAsync("/c");
        Assert.Equal("\"conc\";q=2;qu=\"concurrent-requests\"", string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitPolicyHeader)));
        Assert.Equal("\"conc\";r=1", string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitHeader)));
    }

    private static long T(HttpResponseMessage response, string policy) => (long)Field(response, RedisRateLimitingDefaults.RateLimitHeader, policy)["t"];

    private static long RetryAfter(HttpResponseMessage response) => (long)response.Headers.RetryAfter!.Delta!.Value.TotalSeconds;

    private static List<string> Items(HttpResponseMessage response, string header) =>
        StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues(header))).Select(p => p.Item).ToList();

    private static Dictionary<string, object> Field(HttpResponseMessage response, string header, string policy) =>
        StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues(header))).Single(p => p.Item == policy).Parameters;
}
