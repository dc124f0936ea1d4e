using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// <c>Microsoft.AspNetCore.RateLimiting</c>'s <c>[EnableRateLimiting]</c> / <c>.RequireRateLimiting()</c> and
/// <c>[DisableRateLimiting]</c> / <c>.DisableRateLimiting()</c> under <c>UseRedisRateLimiting()</c>.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingFirstPartyMetadataTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task RequireRateLimiting_GetsTheRedisEdgePolicy()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/e", () => "ok").RequireRateLimiting("api"), instances: 2);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await fleet[i % 2].Client.GetAsync("/e")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task EndpointsRequireRateLimiting_WinsOverItsGroups_AndDisableRateLimitingWinsOverBoth()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("wide", RedisRateLimitAlgorithm.FixedWindow, 100, Hour)
            .Policy("narrow", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            var group = app.MapGroup("/g").RequireRateLimit("wide");
            group.MapGet("/narrow", () => "ok").RequireRateLimiting("narrow");
            group.MapGet("/wide", () => "ok");
            group.MapGet("/off", () => "ok").RequireRateLimiting("narrow").DisableRateLimiting();
        });
        var client = fleet[0].Client;

        var narrow = await client.GetAsync("/g/narrow");
        Assert.Equal(["narrow"], Policies(narrow));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/g/narrow")).StatusCode);
        Assert.Equal(["wide"], Policies(await client.GetAsync("/g/wide")));

        using var scope = fleet[0].Commands.Begin();
        for (var i = 0; i < 3; i++)
        {
            var off = await client.GetAsync("/g/off");
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
            Assert.False(off.Headers.Contains(RedisRateLimitingDefaults.RateLimitPolicyHeader));
        }

        Assert.Empty(scope.Commands);
    }

    [Fact]
    public async Task MvcController_EnableRateLimiting_ActionOverridesController_RateLimitAdds_DisableWins()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("class", RedisRateLimitAlgorithm.FixedWindow, 100, Hour)
            .Policy("action", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapControllers(),
            services: (builder, _) => builder.Services.AddControllers().AddApplicationPart(typeof(FirstPartyRateLimitedTestController).Assembly));
        var client = fleet[0].Client;

        Assert.Equal(["class"], Policies(await client.GetAsync("/rl-first/inherited")));
        Assert.Equal(["action"], Policies(await client.GetAsync("/rl-first/narrow")));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/rl-first/narrow")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/rl-first/added")).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            var off = await client.GetAsync("/rl-first/off");
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
            Assert.False(off.Headers.Contains(RedisRateLimitingDefaults.RateLimitPolicyHeader));
        }
    }

    [Fact]
    public async Task RateLimitMoreSpecificThanEnableRateLimiting_AddsToIt()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("class", RedisRateLimitAlgorithm.FixedWindow, 100, Hour)
            .Policy("action", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) => app.MapControllers(),
            services: (builder, _) => builder.Services.AddControllers().AddApplicationPart(typeof(FirstPartyRateLimitedTestController).Assembly));

        Assert.Equal(["class", "action"], Policies(await fleet[0].Client.GetAsync("/rl-first/added")));
    }

    [Fact]
    public async Task UnknownName_WithoutAddRateLimiter_FailsAtStartup_NamingEndpointAndName()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        var error = await StartFails(settings, app => app.MapGet("/typo", () => "ok").WithDisplayName("typo endpoint").RequireRateLimiting("apii"));
        Assert.Contains("'typo endpoint'", error.Message, StringComparison.Ordinal);
        Assert.Contains("[EnableRateLimiting(\"apii\")]", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddRateLimiter() is not registered", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NameTheFirstPartyLimiterOwns_IsLeftToIt_AndChargedOnce()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) =>
            {
                app.MapGroup("/g").RequireRateLimit("api").MapGet("/fp", () => "ok").RequireRateLimiting("fp");
            },
            services: (builder, _) => builder.Services.AddRateLimiter(o => o.AddFixedWindowLimiter("fp", l =>
            {
                l.PermitLimit = 1;
                l.Window = Hour;
            })),
            beforeRateLimiting: (app, _) => app.UseRateLimiter());
        var client = fleet[0].Client;

        // The first-party [EnableRateLimiting] is the most specific declaration: RedisEdge's less specific "api" does
        // not apply either, so the only limiter that charges the request is the first-party one.
        using var scope = fleet[0].Commands.Begin();
        var first = await client.GetAsync("/g/fp");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.False(first.Headers.Contains(RedisRateLimitingDefaults.RateLimitPolicyHeader));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/g/fp")).StatusCode);
        Assert.Empty(scope.Commands);
    }

    [Fact]
    public async Task NameBothLimitersDefine_FailsAtStartup_SoNoRequestIsChargedTwice()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        var error = await StartFails(
            settings,
            app => app.MapGet("/both", () => "ok").WithDisplayName("both endpoint").RequireRateLimiting("api"),
            builder => builder.Services.AddRateLimiter(o => o.AddFixedWindowLimiter("api", l =>
            {
                l.PermitLimit = 1;
                l.Window = Hour;
            })));
        Assert.Contains("'both endpoint'", error.Message, StringComparison.Ordinal);
        Assert.Contains("charged by both", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NameNeitherLimiterDefines_WithAddRateLimiter_FailsAtStartup()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        var error = await StartFails(
            settings,
            app => app.MapGet("/none", () => "ok").RequireRateLimiting("nobody"),
            builder => builder.Services.AddRateLimiter(o => o.AddConcurrencyLimiter("fp", l => l.PermitLimit = 1)));
        Assert.Contains("[EnableRateLimiting(\"nobody\")]", error.Message, StringComparison.Ordinal);
        Assert.Contains("nor by AddRateLimiter()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReloadDroppingAPolicyRequireRateLimitingNames_IsRefused_TheLimitStays()
    {
        var log = new ListLogger();
        var removed = false;
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            new Dictionary<string, string?>(),
            (app, _) => app.MapGet("/x", () => "ok").RequireRateLimiting("gone"),
            configure: o =>
            {
                if (!Volatile.Read(ref removed))
                {
                    o.AddPolicy("gone", p => { p.PermitLimit = 3; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Global; });
                }
            },
            services: (builder, _) => builder.Logging.AddProvider(log));
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/x")).StatusCode);

        Volatile.Write(ref removed, true);
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();
        var statuses = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((int)(await fleet[0].Client.GetAsync("/x")).StatusCode);
        }

        Assert.Equal([200, 200, 429, 429, 429], statuses);
        Assert.Contains("'gone' (endpoint 'HTTP: GET /x')", Assert.Single(log.Named("ReloadRefused")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequireRateLimiting_WithoutUseRedisRateLimiting_FailsTheRequest_AndTheHandlerNeverRuns()
    {
        var builder = TestHost.CreateBuilder(new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = RedisServerFixture.UniquePrefix(),
        }.Policy("api", RedisRateLimitAlgorithm.FixedWindow, 100, Hour));
        builder.Services.AddRedisEdge().AddRateLimiting();
        await using var app = builder.Build();
        var runs = 0;
        app.MapGet("/guarded", () => Interlocked.Increment(ref runs)).RequireRateLimiting("api");
        app.MapGet("/off", () => "ok").RequireRateLimiting("api").DisableRateLimiting();
        await app.StartAsync();
        using var client = app.GetTestClient();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetAsync("/guarded"));
        Assert.Contains("app.UseRedisRateLimiting()", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, runs);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/off")).StatusCode);
    }

    [Fact]
    public void FirstPartyPolicyNames_AreRead_FromBothKindsOfRegistration()
    {
        var services = new ServiceCollection();
        services.AddRateLimiter(o => o
            .AddFixedWindowLimiter("fixed", l =>
            {
                l.PermitLimit = 1;
                l.Window = Hour;
            })
            .AddPolicy<string, TypedPolicy>("typed"));
        using var provider = services.BuildServiceProvider();
        var firstParty = new FirstPartyRateLimiting(provider);

        Assert.True(firstParty.Registered);
        Assert.True(firstParty.NamesKnown);
        Assert.True(firstParty.Owns("fixed", redisEdgeDefinesIt: false));
        Assert.True(firstParty.Owns("typed", redisEdgeDefinesIt: false));
        Assert.False(firstParty.Owns("other", redisEdgeDefinesIt: false));
        Assert.False(new FirstPartyRateLimiting(new ServiceCollection().BuildServiceProvider()).Owns("fixed", redisEdgeDefinesIt: false));
    }

    [Fact]
    public async Task RateLimitCostBelowOne_FailsAtStartup_NamingTheEndpoint()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        var error = await StartFails(settings, app => app.MapGet("/free", () => "ok").WithDisplayName("zero cost").RequireRateLimit("api", cost: 0));
        Assert.Contains("'zero cost' [RateLimit(\"api\")] has Cost 0; it must be >= 1", error.Message, StringComparison.Ordinal);
    }

    private sealed class TypedPolicy : IRateLimiterPolicy<string>
    {
        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

        public RateLimitPartition<string> GetPartition(Microsoft.AspNetCore.Http.HttpContext httpContext) =>
            RateLimitPartition.GetNoLimiter("all");
    }

    private static List<string> Policies(HttpResponseMessage response) =>
        response.Headers.TryGetValues(RedisRateLimitingDefaults.RateLimitPolicyHeader, out var values)
            ? StructuredFieldList.Parse(string.Join(", ", values)).Select(p => p.Item).ToList()
            : [];

    private async Task<Exception> StartFails(Dictionary<string, string?> settings, Action<WebApplication> endpoints, Action<WebApplicationBuilder>? services = null)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => endpoints(app), services: services is null ? null : (b, _) => services(b));
        });
        return error is OptionsValidationException or InvalidOperationException ? error : throw new Xunit.Sdk.XunitException("Unexpected " + error);
    }
}
