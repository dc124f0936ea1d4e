using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// The middleware's pipeline: which policies apply to an endpoint, what a decision costs in Redis, and opting out.
/// Split by concern: <c>.Responses.cs</c>, <c>.Partitions.cs</c> and <c>.Operations.cs</c> hold the rest.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed partial class RateLimitingMiddlewareTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task TwoPolicies_RequestRejectedBySecond_ConsumesNothingFromFirst()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("wide", RedisRateLimitAlgorithm.SlidingWindowLog, 10, Hour)
            .Policy("narrow", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/both", () => "ok").RequireRateLimit("wide").RequireRateLimit("narrow");
            app.MapGet("/wide", () => "ok").RequireRateLimit("wide");
        }, configure: o => o.LocalDenyCache = false);
        var client = fleet[0].Client;

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/both")).StatusCode);
        for (var i = 0; i < 5; i++)
        {
            var rejected = await client.GetAsync("/both");
            Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
            var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(["narrow"], problem.GetProperty("violated-policies").EnumerateArray().Select(e => e.GetString()));
        }

        var wide = await client.GetAsync("/wide");
        Assert.Equal(HttpStatusCode.OK, wide.StatusCode);
        Assert.Equal(8L, Field(wide, RedisRateLimitingDefaults.RateLimitHeader, "wide")["r"]);
    }

    [Fact]
    public async Task AcceptedRequest_CostsOneRoundTrip_WhateverThePolicyCount_LocallyDeniedCostsNone()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("a", RedisRateLimitAlgorithm.FixedWindow, 1000, Hour)
            .Policy("b", RedisRateLimitAlgorithm.TokenBucket, 1000, Hour)
            .Policy("c", RedisRateLimitAlgorithm.Gcra, 1000, Hour)
            .Policy("one", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        settings[$"{RateLimitTestApp.Section}:GlobalPolicy"] = "a";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/three", () => "ok").RequireRateLimit("b").RequireRateLimit("c").RequireRateLimit("swl-free", 1);
            app.MapGet("/once", () => "ok").RequireRateLimit("one");
            app.MapGet("/plain", () => "ok").DisableRateLimit();
        }, configure: o => o.AddPolicy("swl-free", p => { p.Algorithm = RedisRateLimitAlgorithm.SlidingWindowLog; p.PermitLimit = 1000; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Global; }));
        var instance = fleet[0];
        Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/three")).StatusCode); // loads the script

        var before = await redis.CommandStatsAsync();
        foreach (var path in new[] { "/three", "/three" })
        {
            using var scope = instance.Commands.Begin();
            Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync(path)).StatusCode);

            // The client profiler names every script call EVAL; the server's command stats tell EVALSHA apart.
            Assert.Equal(["EVAL"], scope.Commands);
        }

        var after = await redis.CommandStatsAsync();
        Assert.Equal(2, after.GetValueOrDefault("evalsha") - before.GetValueOrDefault("evalsha"));
        Assert.Equal(0, after.GetValueOrDefault("eval") - before.GetValueOrDefault("eval"));

        Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/once")).StatusCode);
        using (var scope = instance.Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, (await instance.Client.GetAsync("/once")).StatusCode);
            Assert.Equal(["EVAL"], scope.Commands);
        }

        for (var i = 0; i < 3; i++)
        {
            using var scope = instance.Commands.Begin();
            var denied = await instance.Client.GetAsync("/once");
            Assert.Equal(HttpStatusCode.TooManyRequests, denied.StatusCode);
            Assert.NotNull(denied.Headers.RetryAfter);
            Assert.Empty(scope.Commands);
        }

        using (var scope = instance.Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/plain")).StatusCode);
            Assert.Empty(scope.Commands);
        }
    }

    [Fact]
    public async Task PoliciesWithDifferentPartitions_OnASingleNode_StayOneCall_AcceptedOrRejected()
    {
        // On a cluster these two partitions land in different slots (RateLimitingClusterTests); a single node has no
        // slots, so the request keeps its one all-or-nothing call and needs no refund.
        var settings = new Dictionary<string, string?>()
            .Policy("ip", RedisRateLimitAlgorithm.SlidingWindowLog, 10, Hour, ("Partition", "Ip"))
            .Policy("key", RedisRateLimitAlgorithm.FixedWindow, 2, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"));
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key"),
            configure: o => o.LocalDenyCache = false,
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
                context.Request.Headers["X-Api-Key"] = "k1";
                return next(context);
            }));
        var instance = fleet[0];
        Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/both")).StatusCode); // loads the script

        var before = await redis.CommandStatsAsync();
        foreach (var expected in new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests })
        {
            using var scope = instance.Commands.Begin();
            Assert.Equal(expected, (await instance.Client.GetAsync("/both")).StatusCode);
            Assert.Equal(["EVAL"], scope.Commands);
        }

        var after = await redis.CommandStatsAsync();
        Assert.Equal(3, after.GetValueOrDefault("evalsha") - before.GetValueOrDefault("evalsha"));
        var log = Assert.Single(await redis.KeysAsync(fleet.KeyPrefix + ":rl:"), k => k.EndsWith(":ip:swl", StringComparison.Ordinal));
        Assert.Equal(2, await redis.Database.SortedSetLengthAsync(log));
    }

    [Fact]
    public async Task EndpointWithoutMetadata_AndNoGlobalPolicy_CostsNoCommandAndNoHeaders()
    {
        await using var fleet = await RateLimitTestApp.StartAsync(redis, new Dictionary<string, string?>().Policy("x", RedisRateLimitAlgorithm.FixedWindow, 1, Hour), (app, _) =>
            app.MapGet("/free", () => "ok"));
        using var scope = fleet[0].Commands.Begin();
        for (var i = 0; i < 3; i++)
        {
            var response = await fleet[0].Client.GetAsync("/free");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader));
        }

        Assert.Empty(scope.Commands);
    }

    [Fact]
    public async Task DisableRateLimit_WinsOverAttributesAndTheGlobalPolicy()
    {
        var settings = new Dictionary<string, string?>().Policy("one", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        settings[$"{RateLimitTestApp.Section}:GlobalPolicy"] = "one";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/off", () => "ok").RequireRateLimit("one").DisableRateLimit();
            app.MapGet("/global", () => "ok");
        });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/off")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/global")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await fleet[0].Client.GetAsync("/global")).StatusCode);
    }

    [Fact]
    public async Task ShadowMode_NeverRejects_AndReportsShadowRejections()
    {
        var settings = new Dictionary<string, string?>().Policy("shadow", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Mode", "Shadow"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/s", () => "ok").RequireRateLimit("shadow"));
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/s")).StatusCode);
        }

        var results = decisions.Measurements.Select(m => (string)m.Tags[RedisRateLimitingDefaults.ResultTag]!).ToList();
        Assert.Equal(["allowed", "shadow_rejected", "shadow_rejected", "shadow_rejected"], results);
        Assert.All(decisions.Measurements, m => Assert.Equal("shadow", m.Tags[RedisRateLimitingDefaults.PolicyTag]));
    }

    [Fact]
    public async Task MvcControllers_UseTheSameAttributes()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("class", RedisRateLimitAlgorithm.FixedWindow, 100, Hour)
            .Policy("action", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapControllers(),
            services: (builder, _) => builder.Services.AddControllers().AddApplicationPart(typeof(RateLimitedTestController).Assembly));

        var first = await fleet[0].Client.GetAsync("/rl-test/limited");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(["class", "action"], StructuredFieldList.Parse(Header(first, RedisRateLimitingDefaults.RateLimitPolicyHeader)).Select(p => p.Item));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await fleet[0].Client.GetAsync("/rl-test/limited")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/rl-test/free")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/rl-test/free")).StatusCode);
    }
    private static async Task<List<int>> Statuses(RedisFleet fleet, string path, string? apiKey, int count)
    {
        var statuses = new List<int>();
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (apiKey is not null)
            {
                request.Headers.Add("X-Api-Key", apiKey);
            }

            statuses.Add((int)(await fleet[0].Client.SendAsync(request)).StatusCode);
        }

        return statuses;
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : throw new Xunit.Sdk.XunitException($"No {name} header.");

    private static Dictionary<string, object> Field(HttpResponseMessage response, string header, string policy) =>
        StructuredFieldList.Parse(Header(response, header)).Single(p => p.Item == policy).Parameters;
}
