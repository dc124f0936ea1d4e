using Microsoft.Extensions.Options;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

[Collection(RedisCollection.Name)]
public sealed class RateLimitingMiddlewareTests(RedisServerFixture redis)
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
    public async Task BadPartitionValues_NeverFailAndNeverReachAKeyRaw()
    {
        var hostile = new[]
        {
            new string('x', 16 * 1024),
            "line\r\nbreak\0nul\u0001\u007f",
            "{tag}} *?[]\\ spaces",
            "ключ-😀-鍵",
            "",
            " ",
        };
        var settings = new Dictionary<string, string?>().Policy("key", RedisRateLimitAlgorithm.SlidingWindowLog, 3, Hour,
            ("Partition", "Header"), ("PartitionName", "X-Api-Key"));
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/k", () => "ok").RequireRateLimit("key"),
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                // Headers a real client could not send through HttpClient validation, injected server-side.
                if (context.Request.Query.TryGetValue("i", out var index))
                {
                    context.Request.Headers["X-Api-Key"] = hostile[int.Parse(index!, CultureInfo.InvariantCulture)];
                }

                return next(context);
            }));
        var client = fleet[0].Client;

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < hostile.Length; i++)
        {
            for (var r = 0; r < 4; r++)
            {
                statuses.Add((await client.GetAsync($"/k?i={i}")).StatusCode);
            }
        }

        using var big = new HttpRequestMessage(HttpMethod.Get, "/k");
        big.Headers.TryAddWithoutValidation("X-Api-Key", new string('y', 16 * 1024));
        statuses.Add((await client.SendAsync(big)).StatusCode);
        statuses.Add((await client.GetAsync("/k")).StatusCode); // absent

        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"Got {s}."));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        var keys = await redis.KeysAsync(fleet.KeyPrefix + ":");
        Assert.NotEmpty(keys);
        var featurePrefix = new RedisKeyBuilder(fleet.KeyPrefix).FeaturePrefix(RedisRateLimitingDefaults.KeyFeature);
        Assert.All(keys, k =>
        {
            Assert.StartsWith(featurePrefix, k, StringComparison.Ordinal);
            Assert.Matches("^[A-Za-z0-9_.:{}-]{1,160}$", k);
        });
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
    public async Task Metrics_CountDecisionsByResult_AndRecordQueueDelay()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("fw", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, TimeSpan.FromMilliseconds(200), ("MaxQueueDelay", "00:00:01"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/fw", () => "ok").RequireRateLimit("fw");
            app.MapGet("/q", () => "ok").RequireRateLimit("queue");
        });
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);
        using var delays = new MeasurementRecorder<double>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.QueueDelayInstrument);
        using var durations = new MeasurementRecorder<double>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestDurationInstrument);

        for (var i = 0; i < 3; i++)
        {
            await fleet[0].Client.GetAsync("/fw");
        }

        // Two requests at once on a 1-per-200 ms queue: both proceed, the second after waiting for its slot.
        var queued = await Task.WhenAll(fleet[0].Client.GetAsync("/q"), fleet[0].Client.GetAsync("/q"));
        Assert.All(queued, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var fw = decisions.Measurements.Where(m => (string)m.Tags[RedisRateLimitingDefaults.PolicyTag]! == "fw")
            .Select(m => (string)m.Tags[RedisRateLimitingDefaults.ResultTag]!).ToList();
        Assert.Equal(["allowed", "rejected", "local_deny"], fw);

        // The duration histogram has one measurement per counted request, with the same policy and result.
        static string Key(Dictionary<string, object?> tags) => $"{tags[RedisRateLimitingDefaults.PolicyTag]}/{tags[RedisRateLimitingDefaults.ResultTag]}";
        Assert.Equal(
            decisions.Measurements.Select(m => Key(m.Tags)).Order(StringComparer.Ordinal),
            durations.Measurements.Select(m => Key(m.Tags)).Order(StringComparer.Ordinal));
        Assert.All(durations.Measurements, m => Assert.True(m.Value >= 0));
        Assert.Equal(2, delays.Measurements.Count);
        Assert.Contains(delays.Measurements, m => m.Value > 0);
        Assert.All(delays.Measurements, m => Assert.InRange(m.Value, 0, 1));
    }

    [Fact]
    public async Task OverridesAllowAndDenyLists_ApplyPerPartition()
    {
        var settings = new Dictionary<string, string?>().Policy("key", RedisRateLimitAlgorithm.FixedWindow, 1, Hour,
            ("Partition", "Header"), ("PartitionName", "X-Api-Key"),
            ("Overrides:0:Partition", "gold"), ("Overrides:0:PermitLimit", "3"),
            ("AllowList:0", "internal"), ("DenyList:0", "banned"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/k", () => "ok").RequireRateLimit("key"));

        Assert.Equal([200, 429, 429], await Statuses(fleet, "/k", "basic", 3));
        Assert.Equal([200, 200, 200, 429], await Statuses(fleet, "/k", "gold", 4));
        Assert.Equal([200, 200, 200, 200, 200], await Statuses(fleet, "/k", "internal", 5));
        using (var scope = fleet[0].Commands.Begin())
        {
            Assert.Equal([403], await Statuses(fleet, "/k", "banned", 1));
            Assert.Empty(scope.Commands);
        }
    }

    [Fact]
    public async Task IpPartition_HonoursForwardedHeaders()
    {
        var settings = new Dictionary<string, string?>().Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Ip"));
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/ip", () => "ok").RequireRateLimit("ip"),
            beforeRateLimiting: (app, _) =>
            {
                var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor };
                options.KnownIPNetworks.Clear();
                options.KnownProxies.Clear();
                app.UseForwardedHeaders(options);
            });

        async Task<HttpStatusCode> From(string ip)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/ip");
            request.Headers.Add("X-Forwarded-For", ip);
            return (await fleet[0].Client.SendAsync(request)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await From("203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From("203.0.113.7"));
        Assert.Equal(HttpStatusCode.OK, await From("198.51.100.1"));
        Assert.Equal(HttpStatusCode.OK, await From("::ffff:198.51.100.9"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From("198.51.100.9"));
    }

    [Fact]
    public async Task UserAndClaimPartitions_CountPerUserAndPerClaimValue()
    {
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            new Dictionary<string, string?>()
                .Policy("user", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "User"))
                .Policy("tier", RedisRateLimitAlgorithm.FixedWindow, 2, Hour, ("Partition", "Claim"), ("PartitionName", "tier")),
            (app, _) =>
            {
                app.MapGet("/u", () => "ok").RequireRateLimit("user");
                app.MapGet("/t", () => "ok").RequireRateLimit("tier");
            },
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                if (context.Request.Query.TryGetValue("ip", out var ip))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
                }

                if (context.Request.Query.TryGetValue("as", out var name))
                {
                    context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                        [new(System.Security.Claims.ClaimTypes.Name, name.ToString()), new("tier", name == "carol" ? "pro" : "free")], "test"));
                }

                return next(context);
            }));
        var client = fleet[0].Client;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/u?as=alice")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/u?as=alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/u?as=bob")).StatusCode);

        // Anonymous requests are counted per client IP: one anonymous client cannot use up everyone's quota.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/u?ip=203.0.113.7")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/u?ip=203.0.113.7")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/u?ip=198.51.100.1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/u?ip=2001:db8:1:2::1")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/u?ip=2001:db8:1:2::99")).StatusCode);

        // A user is counted by name whatever address they come from.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/u?as=alice&ip=192.0.2.1")).StatusCode);

        // alice and bob share the "free" tier; carol's "pro" tier is counted apart.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/t?as=alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/t?as=bob")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/t?as=alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/t?as=carol")).StatusCode);
    }

    [Fact]
    public async Task CustomResolverAndRouteAndCost_Partition()
    {
        await using var fleet = await RateLimitTestApp.StartAsync(redis, new Dictionary<string, string?>(), (app, _) =>
        {
            app.MapGet("/tenant/{id}", () => "ok").RequireRateLimit("route");
            app.MapGet("/custom", () => "ok").RequireRateLimit("custom", cost: 2);
        }, configure: o =>
        {
            o.AddPolicy("route", p => { p.PermitLimit = 1; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Route; p.PartitionName = "id"; });
            o.AddPolicy("custom", p => { p.PermitLimit = 3; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Custom; p.PartitionResolver = c => c.Request.Query["t"]; });
        });
        var client = fleet[0].Client;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/tenant/a")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/tenant/a")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/tenant/b")).StatusCode);

        // Cost 2 against a limit of 3: one request fits, the second does not.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/custom?t=x")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/custom?t=x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/custom?t=y")).StatusCode);
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

    [Fact]
    public async Task RedisUnreachable_FailsOpenByDefault_AndClosedWhenThePolicySaysSo()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("open", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("closed", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailClosed"));
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            app.MapGet("/open", () => "ok").RequireRateLimit("open");
            app.MapGet("/closed", () => "ok").RequireRateLimit("closed");
        });
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/open")).StatusCode);
        }

        var closed = await fleet[0].Client.GetAsync("/closed");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
        Assert.True(closed.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "A FailClosed 503 carries Retry-After.");
        Assert.Equal("application/problem+json", closed.Content.Headers.ContentType?.MediaType);
        Assert.Equal("closed", JsonDocument.Parse(await closed.Content.ReadAsStringAsync()).RootElement.GetProperty("policies")[0].GetString());
        Assert.All(decisions.Measurements, m => Assert.Equal("redis_error", m.Tags[RedisRateLimitingDefaults.ResultTag]));
        Assert.Equal(4, decisions.Measurements.Count);
    }

    [Fact]
    public async Task PolicyChangesInConfiguration_ApplyWithoutRestart()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/r", () => "ok").RequireRateLimit("api"));
        Assert.Equal([200, 200, 429], await Statuses(fleet, "/r", null, 3));

        var configuration = (IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>();
        configuration[$"{RateLimitTestApp.Section}:Policies:api:PermitLimit"] = "4";
        configuration.Reload();

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await fleet[0].Client.GetAsync("/r"));
        }

        // The locally remembered rejection was dropped with the old limits; the window's count carries on.
        Assert.Equal([200, 200, 429], responses.Select(r => (int)r.StatusCode));
        Assert.Equal(4L, Field(responses[0], RedisRateLimitingDefaults.RateLimitPolicyHeader, "api")["q"]);
    }

    [Fact]
    public async Task InvalidConfigurationReload_KeepsTheLastValidPoliciesInForce()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/r", () => "ok").RequireRateLimit("api"));
        Assert.Equal([200], await Statuses(fleet, "/r", null, 1));

        var configuration = (IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>();
        configuration[$"{RateLimitTestApp.Section}:Policies:api:PermitLimit"] = "-1";

        // Validation refuses the new values where the reload is raised; requests keep the last valid limit (2).
        var error = Assert.IsType<AggregateException>(Record.Exception(configuration.Reload));
        var validation = Assert.IsType<OptionsValidationException>(Assert.Single(error.Flatten().InnerExceptions));
        Assert.Contains("PermitLimit must be > 0", validation.Message, StringComparison.Ordinal);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 2; i++)
        {
            responses.Add(await fleet[0].Client.GetAsync("/r"));
        }

        Assert.Equal([200, 429], responses.Select(r => (int)r.StatusCode));
        Assert.Equal(2L, Field(responses[0], RedisRateLimitingDefaults.RateLimitPolicyHeader, "api")["q"]);
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
