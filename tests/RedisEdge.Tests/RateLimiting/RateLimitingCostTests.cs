using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>Which cost a request is charged, large costs, and which endpoints are not limited at all.</summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingCostTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task EndpointCost_WinsOverTheGlobalPolicysCostOfOne()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        settings[$"{RateLimitTestApp.Section}:GlobalPolicy"] = "api";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/heavy", () => "ok").RequireRateLimit("api", cost: 5);
            app.MapGet("/plain", () => "ok");
            app.MapGroup("/group").RequireRateLimit("api", cost: 2).MapGet("/item", () => "ok").RequireRateLimit("api", cost: 7);
        });

        var heavy = await fleet[0].Client.GetAsync("/heavy");
        Assert.Equal(95L, Remaining(heavy, "api"));
        Assert.Single(StructuredFieldList.Parse(string.Join(", ", heavy.Headers.GetValues(RedisRateLimitingDefaults.RateLimitPolicyHeader))));
        Assert.Equal(94L, Remaining(await fleet[0].Client.GetAsync("/plain"), "api"));

        // The endpoint's declaration is more specific than its group's.
        Assert.Equal(87L, Remaining(await fleet[0].Client.GetAsync("/group/item"), "api"));
    }

    [Fact]
    public async Task ActionCost_WinsOverTheControllersDeclarationOfTheSamePolicy_AndFirstPartyDisableIsHonoured()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("class", RedisRateLimitAlgorithm.FixedWindow, 100, Hour)
            .Policy("action", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        settings[$"{RateLimitTestApp.Section}:GlobalPolicy"] = "action";
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapControllers(),
            services: (builder, _) => builder.Services.AddControllers().AddApplicationPart(typeof(RateLimitCostTestController).Assembly));
        var client = fleet[0].Client;

        Assert.Equal(90L, Remaining(await client.GetAsync("/rl-cost/heavy"), "class"));
        Assert.Equal(89L, Remaining(await client.GetAsync("/rl-cost/light"), "class"));

        using (var scope = fleet[0].Commands.Begin())
        {
            for (var i = 0; i < 3; i++)
            {
                var health = await client.GetAsync("/rl-cost/health");
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                Assert.False(health.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));
            }

            Assert.Empty(scope.Commands);
        }
    }

    [Fact]
    public async Task FirstPartyDisableRateLimiting_WinsOverAttributesAndTheGlobalPolicy()
    {
        var settings = new Dictionary<string, string?>().Policy("one", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        settings[$"{RateLimitTestApp.Section}:GlobalPolicy"] = "one";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/health", () => "ok").RequireRateLimit("one").DisableRateLimiting();
            app.MapGet("/api", () => "ok");
        });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/health")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/api")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await fleet[0].Client.GetAsync("/api")).StatusCode);
    }

    [Fact]
    public async Task Cost5000OnALimitOf100000_IsCommittedWhole_ForEveryAlgorithmThatStoresPermits()
    {
        const int cost = 5_000;
        var settings = new Dictionary<string, string?>()
            .Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 100_000, Hour)
            .Policy("swl", RedisRateLimitAlgorithm.SlidingWindowLog, 100_000, Hour)
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 100_000);
        long leasesHeld = -1;
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
            app.MapGet("/bulk", async () =>
            {
                var key = (await redis.KeysAsync(PrefixOf(app))).Single(k => k.EndsWith(":conc:conc", StringComparison.Ordinal));
                leasesHeld = await redis.Database.SortedSetLengthAsync(key);
                return "ok";
            }).RequireRateLimit("fw", cost).RequireRateLimit("swl", cost).RequireRateLimit("conc", cost));

        var response = await fleet[0].Client.GetAsync("/bulk");

        // Decided by Redis (a failed script would have failed open, without headers), every policy charged 5,000.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(95_000L, Remaining(response, "fw"));
        Assert.Equal(95_000L, Remaining(response, "swl"));
        Assert.Equal(95_000L, Remaining(response, "conc"));
        Assert.Equal(cost, leasesHeld);
        var swl = (await redis.KeysAsync(fleet.KeyPrefix + ":rl:")).Single(k => k.EndsWith(":swl:swl", StringComparison.Ordinal));
        Assert.Equal(cost, await redis.Database.SortedSetLengthAsync(swl));

        // The release removed all 5,000 leases (it may finish just after the response).
        var released = false;
        for (var attempt = 0; attempt < 50 && !released; attempt++)
        {
            released = !(await redis.KeysAsync(fleet.KeyPrefix + ":rl:")).Exists(k => k.EndsWith(":conc:conc", StringComparison.Ordinal));
            if (!released)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(released, "The 5,000 leases were not released.");
    }

    [Fact]
    public async Task LargeCostRejectedByALaterPolicy_CommitsNothingToEarlierOnes()
    {
        const int cost = 5_000;
        var settings = new Dictionary<string, string?>()
            .Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 100_000, Hour)
            .Policy("swl", RedisRateLimitAlgorithm.SlidingWindowLog, 8_000, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/bulk", () => "ok").RequireRateLimit("fw", cost).RequireRateLimit("swl", cost),
            configure: o => o.LocalDenyCache = false);

        var first = await fleet[0].Client.GetAsync("/bulk");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(3_000L, Remaining(first, "swl"));

        var second = await fleet[0].Client.GetAsync("/bulk");
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        var fw = (await redis.KeysAsync(fleet.KeyPrefix + ":rl:")).Single(k => k.EndsWith(":fw:fw", StringComparison.Ordinal));
        Assert.Equal(cost, (long)await redis.Database.HashGetAsync(fw, "c"));
    }

    internal static long Remaining(HttpResponseMessage response, string policy) =>
        (long)StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitHeader)))
            .Single(p => p.Item == policy).Parameters["r"];

    private static string PrefixOf(WebApplication app) =>
        app.Configuration["RedisEdge:Redis:KeyPrefix"] + ":rl:";
}
