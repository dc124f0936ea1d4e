using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Configuration;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Core;

/// <summary>
/// Every configuration and endpoint error is reported in one start-up failure, each naming its configuration path or
/// endpoint: three typos in three features and a bad endpoint take one restart to find, not four.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class StartupReportTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ThreeMisconfiguredFeaturesAndBadEndpoints_FailStartUpOnce_ListingEveryError()
    {
        var builder = TestHost.CreateBuilder(Settings(new()
        {
            ["RedisEdge:RateLimiting:Policies:api:Algoritm"] = "TokenBucket",
            ["RedisEdge:Idempotency:Policies:orders:Leese"] = "00:00:10",
            ["RedisEdge:Sessions:IdleTimeout"] = "20",
        }));
        builder.Services.AddRedisEdge().AddSessions().AddRateLimiting().AddIdempotency().AddResponseCaching();
        await using var app = builder.Build();
        app.UseRedisRateLimiting();
        app.UseRedisResponseCaching();
        app.MapGet("/page", () => "page").CacheResponse("pgae");
        app.MapGet("/limited", () => "limited").RequireRateLimit("missing");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Equal(5, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("RedisEdge:RateLimiting:Policies:api:Algoritm is not a RedisEdge setting", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("RedisEdge:Idempotency:Policies:orders:Leese is not a RedisEdge setting", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("RedisEdge:Sessions:IdleTimeout is '20', which .NET reads as 20 days", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("'HTTP: GET /page'", StringComparison.Ordinal) &&
            f.Contains("response-cache policy 'pgae', which is not defined under RedisEdge:ResponseCaching:Policies", StringComparison.Ordinal));
        // The rate-limiting section is itself invalid; its endpoints are still checked, against the policies as bound.
        Assert.Contains(error.Failures, f => f.Contains("'HTTP: GET /limited'", StringComparison.Ordinal) &&
            f.Contains("rate-limit policy 'missing', which is not defined under RedisEdge:RateLimiting:Policies", StringComparison.Ordinal));
        foreach (var failure in error.Failures)
        {
            Assert.Contains(failure, error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>The connection and the cache's subscription start as hosted services, before the endpoints exist; with an
    /// invalid Core configuration they must not fail first, with Core's errors alone.</summary>
    [Fact]
    public async Task InvalidCoreConfiguration_IsReportedWithTheFeatures_NotByTheFirstHostedService()
    {
        var builder = TestHost.CreateBuilder(Settings(new()
        {
            ["RedisEdge:Redis:KeyPrefix"] = "bad {prefix}",
            ["RedisEdge:Sessions:IdleTimout"] = "00:20:00",
        }));
        builder.Services.AddRedisEdge().AddSessions().AddResponseCaching();
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Equal(2, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("RedisEdge:Redis:KeyPrefix must be", StringComparison.Ordinal));
        Assert.Contains("RedisEdge:Sessions:IdleTimout is not a RedisEdge setting; it would be ignored (did you mean 'IdleTimeout'?).", error.Failures);
    }

    [Fact]
    public async Task NonWebHost_InvalidConfiguration_FailsStartListingEveryFeature()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(Settings(new()
        {
            ["RedisEdge:Sessions:IdleTimout"] = "00:20:00",
            ["RedisEdge:ResponseCaching:Policies:page:Expire"] = "30",
        }));
        builder.Services.AddRedisEdge().AddSessions().AddResponseCaching();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(2, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("RedisEdge:Sessions:IdleTimout", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("RedisEdge:ResponseCaching:Policies:page:Expire is '30'", StringComparison.Ordinal));
    }

    private Dictionary<string, string?> Settings(Dictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = RedisServerFixture.UniquePrefix(),
            ["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "FixedWindow",
            ["RedisEdge:RateLimiting:Policies:api:PermitLimit"] = "10",
            ["RedisEdge:RateLimiting:Policies:api:Window"] = "00:01:00",
            ["RedisEdge:ResponseCaching:Policies:page:Expire"] = "00:01:00",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }
}
