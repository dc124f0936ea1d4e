using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// IP partitions by prefix: a client rotating addresses inside its IPv6 /64 (or a configured IPv4 network) stays one
/// partition. Partitions without a value fall back to the client IP.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingPartitionTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task IPv6_DefaultsToThe64_IPv4ToTheAddress()
    {
        var settings = new Dictionary<string, string?>().Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Ip"));
        await using var fleet = await StartAsync(settings);

        Assert.Equal(HttpStatusCode.OK, await From(fleet, "2001:db8:1:2::1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From(fleet, "2001:db8:1:2:ffff:ffff:ffff:fffe"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "2001:db8:1:3::1"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "203.0.113.8"));
    }

    [Fact]
    public async Task PrefixLengths_AreConfigurable_AndListsMatchTheNetwork()
    {
        var settings = new Dictionary<string, string?>().Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 1, Hour,
            ("Partition", "Ip"), ("IPv4PrefixLength", "24"), ("IPv6PrefixLength", "48"),
            ("DenyList:0", "2001:db8:bad::/48"), ("AllowList:0", "198.51.100.77"),
            ("Overrides:0:Partition", "192.0.2.0/24"), ("Overrides:0:PermitLimit", "2"));
        await using var fleet = await StartAsync(settings);

        Assert.Equal(HttpStatusCode.OK, await From(fleet, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From(fleet, "203.0.113.200"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "2001:db8:1:2::1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From(fleet, "2001:db8:1:3::1"));

        // A listed address stands for its network.
        Assert.Equal(HttpStatusCode.Forbidden, await From(fleet, "2001:db8:bad:77::1"));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await From(fleet, "198.51.100." + (i + 1)));
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            [await From(fleet, "192.0.2.1"), await From(fleet, "192.0.2.2"), await From(fleet, "192.0.2.3")]);
    }

    [Fact]
    public async Task SingleHashSlot_KeepsEveryPartitionItsOwnCounter_InOneSlot()
    {
        // One slot for every key (what Redis Cluster needs when an endpoint mixes partitionings), but still one counter,
        // one local deny entry and one coalescing lane per client.
        var settings = new Dictionary<string, string?> { ["RedisEdge:RateLimiting:SingleHashSlot"] = "true" }
            .Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 2, Hour, ("Partition", "Ip"));
        await using var fleet = await StartAsync(settings);

        Assert.Equal(HttpStatusCode.OK, await From(fleet, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From(fleet, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await From(fleet, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "203.0.113.8"));
        Assert.Equal(HttpStatusCode.OK, await From(fleet, "2001:db8:1:2::1"));

        var keys = await redis.KeysAsync(fleet.KeyPrefix + ":rl:");
        Assert.Equal(3, keys.Count);
        Assert.All(keys, k => Assert.StartsWith(fleet.KeyPrefix + ":rl:{rl}:", k, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PrefixMisconfiguration_FailsAtStartup_NamingThePaths()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("lengths", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Ip"), ("IPv4PrefixLength", "0"), ("IPv6PrefixLength", "129"))
            .Policy("lists", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Ip"),
                ("DenyList:0", "10.0.0.0/8"), ("AllowList:0", "not-an-ip"), ("Overrides:0:Partition", "2001:db8::/32"), ("Overrides:0:PermitLimit", "5"));
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        });

        Assert.Contains("RedisEdge:RateLimiting:Policies:lengths:IPv4PrefixLength must be between 1 and 32", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:lengths:IPv6PrefixLength must be between 1 and 128", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:lists:DenyList:0: '10.0.0.0/8' is a /8 network, but partitions are /32", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:lists:AllowList:0: 'not-an-ip' is not an IP address", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:lists:Overrides:0:Partition: '2001:db8::/32' is a /32 network, but partitions are /64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeaderClaimAndCustomPartitions_WithoutAValue_CountPerClientIp_UnlessConfiguredShared()
    {
        // An API-key policy of 1 per hour: a client sending no key must not use up the quota of every other keyless
        // client. Likewise a claim missing from the user and a custom resolver answering null.
        var settings = new Dictionary<string, string?>()
            .Policy("key", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"))
            .Policy("claim", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Claim"), ("PartitionName", "tenant"))
            .Policy("shared", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"), ("PartitionFallback", "Shared"));
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) =>
            {
                app.MapGet("/key", () => "ok").RequireRateLimit("key");
                app.MapGet("/claim", () => "ok").RequireRateLimit("claim");
                app.MapGet("/custom", () => "ok").RequireRateLimit("custom");
                app.MapGet("/shared", () => "ok").RequireRateLimit("shared");
            },
            configure: o => o.AddPolicy("custom", p =>
            {
                p.PermitLimit = 1;
                p.Window = Hour;
                p.Partition = RedisRateLimitPartitionKind.Custom;
                p.PartitionResolver = _ => null;
            }),
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(context.Request.Query["ip"].ToString());
                return next(context);
            }));

        async Task<HttpStatusCode> Get(string path, string ip, string? apiKey = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path + "?ip=" + ip);
            if (apiKey is not null)
            {
                request.Headers.Add("X-Api-Key", apiKey);
            }

            return (await fleet[0].Client.SendAsync(request)).StatusCode;
        }

        foreach (var path in new[] { "/key", "/claim", "/custom" })
        {
            Assert.Equal(HttpStatusCode.OK, await Get(path, "203.0.113.7"));
            Assert.Equal(HttpStatusCode.TooManyRequests, await Get(path, "203.0.113.7"));
            Assert.Equal(HttpStatusCode.OK, await Get(path, "198.51.100.1"));
        }

        // A key is still its own partition, wherever it comes from.
        Assert.Equal(HttpStatusCode.OK, await Get("/key", "203.0.113.7", "k1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get("/key", "198.51.100.9", "k1"));

        // Shared, when configured: one bucket for every keyless request.
        Assert.Equal(HttpStatusCode.OK, await Get("/shared", "203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Get("/shared", "198.51.100.1"));
    }

    private Task<RedisFleet> StartAsync(Dictionary<string, string?> settings) =>
        RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapGet("/ip", () => "ok").RequireRateLimit("ip"),
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(context.Request.Query["ip"].ToString());
                return next(context);
            }));

    private static async Task<HttpStatusCode> From(RedisFleet fleet, string ip) =>
        (await fleet[0].Client.GetAsync("/ip?ip=" + Uri.EscapeDataString(ip))).StatusCode;
}
