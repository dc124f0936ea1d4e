using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>Whom a policy counts: partition kinds, hostile partition values, overrides and allow/deny lists.</summary>
public sealed partial class RateLimitingMiddlewareTests
{
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
}
