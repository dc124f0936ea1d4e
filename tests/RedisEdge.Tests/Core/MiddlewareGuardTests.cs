using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.RateLimiting;
using RedisEdge.ResponseCaching;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Core;

/// <summary>
/// An endpoint whose RedisEdge metadata needs a middleware that did not run for the request (never added, or placed
/// before an explicit <c>UseRouting()</c>) fails loudly, as ASP.NET Core's <c>EndpointMiddleware</c> does for
/// authorization metadata, and never runs unprotected.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class MiddlewareGuardTests(RedisServerFixture redis)
{
    public enum Feature
    {
        Idempotency,
        RateLimiting,
        ResponseCaching,
        Sessions,
    }

    public enum Placement
    {
        Missing,
        BeforeExplicitRouting,
        AfterRouting,
    }

    [Theory]
    [InlineData(Feature.Idempotency, Placement.Missing, "app.UseRedisIdempotency()")]
    [InlineData(Feature.Idempotency, Placement.BeforeExplicitRouting, "app.UseRedisIdempotency()")]
    [InlineData(Feature.RateLimiting, Placement.Missing, "app.UseRedisRateLimiting()")]
    [InlineData(Feature.RateLimiting, Placement.BeforeExplicitRouting, "app.UseRedisRateLimiting()")]
    [InlineData(Feature.ResponseCaching, Placement.Missing, "app.UseRedisResponseCaching()")]
    [InlineData(Feature.ResponseCaching, Placement.BeforeExplicitRouting, "app.UseRedisResponseCaching()")]
    [InlineData(Feature.Sessions, Placement.Missing, "app.UseRedisSessions()")]
    [InlineData(Feature.Sessions, Placement.BeforeExplicitRouting, "app.UseRedisSessions()")]
    public async Task MetadataWithoutItsMiddleware_FailsNamingTheCall_AndTheHandlerNeverRuns(Feature feature, Placement placement, string call)
    {
        var runs = 0;
        await using var app = await StartAsync(feature, placement, () => Interlocked.Increment(ref runs));
        using var client = app.GetTestClient();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendAsync(Request(feature, "k1")));

        Assert.Contains(call, error.Message, StringComparison.Ordinal);
        Assert.Contains("/guarded", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, runs);
    }

    [Theory]
    [InlineData(Feature.Idempotency)]
    [InlineData(Feature.RateLimiting)]
    [InlineData(Feature.ResponseCaching)]
    [InlineData(Feature.Sessions)]
    public async Task MetadataWithItsMiddlewareAfterRouting_RunsTheOriginalEndpoint(Feature feature)
    {
        var runs = 0;
        RouteEndpoint? seen = null;
        await using var app = await StartAsync(feature, Placement.AfterRouting, () => Interlocked.Increment(ref runs), e => seen = e as RouteEndpoint);
        using var client = app.GetTestClient();

        using var response = await client.SendAsync(Request(feature, "k2"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, runs);

        // The handler sees the endpoint routing chose, with its route pattern (telemetry's http.route reads it).
        Assert.NotNull(seen);
        Assert.Equal("/guarded", seen.RoutePattern.RawText);
        Assert.False(app.Services.GetRequiredService<RedisEdge.Internal.RedisEdgeMiddlewareGuard>().IsTwin(seen));
    }

    /// <summary>An endpoint that asks for two features runs only once both middlewares ran; the message names the one missing.</summary>
    [Fact]
    public async Task TwoFeatures_OneMiddlewareMissing_FailsNamingIt_BothPresent_Runs()
    {
        var runs = 0;
        async Task<WebApplication> Start(bool withRateLimiting)
        {
            var builder = Builder();
            builder.Services.AddRedisEdge().AddIdempotency().AddRateLimiting();
            var app = builder.Build();
            if (withRateLimiting)
            {
                app.UseRedisRateLimiting();
            }

            app.UseRedisIdempotency();
            app.MapPost("/guarded", () => { Interlocked.Increment(ref runs); return Results.Ok(); }).WithIdempotency().RequireRateLimit("api");
            await app.StartAsync();
            return app;
        }

        await using (var app = await Start(withRateLimiting: false))
        {
            using var client = app.GetTestClient();
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendAsync(Request(Feature.Idempotency, "k3")));
            Assert.Contains("app.UseRedisRateLimiting()", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, runs);
        }

        await using (var app = await Start(withRateLimiting: true))
        {
            using var client = app.GetTestClient();
            using var first = await client.SendAsync(Request(Feature.Idempotency, "k4"));
            using var replay = await client.SendAsync(Request(Feature.Idempotency, "k4"));
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            Assert.Equal(1, runs);
        }
    }

    /// <summary>The same for a controller action: routing hands out MVC endpoints like any other.</summary>
    [Fact]
    public async Task MvcActionWithoutTheMiddleware_Fails_AndTheActionNeverRuns()
    {
        RedisEdge.Tests.Idempotency.IdempotencyMvcTestController.Executions = 0;
        var builder = Builder();
        builder.Configuration["RedisEdge:Idempotency:Policies:lenient:KeyRequired"] = "false";
        builder.Services.AddRedisEdge().AddIdempotency();
        builder.Services.AddControllers().AddApplicationPart(typeof(RedisEdge.Tests.Idempotency.IdempotencyMvcTestController).Assembly);
        await using var app = builder.Build();
        app.MapControllers();
        await app.StartAsync();
        using var client = app.GetTestClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mvc-idem/orders")
        {
            Content = new StringContent("""{"item":"book","quantity":1}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", "\"mvc-guard\"");
        request.Headers.Add("X-Api-Key", "guard-tests");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendAsync(request));

        Assert.Contains("app.UseRedisIdempotency()", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, RedisEdge.Tests.Idempotency.IdempotencyMvcTestController.Executions);
    }

    /// <summary>A disable marker wins: such an endpoint needs no middleware, and endpoints without metadata are untouched.</summary>
    [Fact]
    public async Task DisabledOrPlainEndpoints_RunWithoutTheMiddleware()
    {
        var builder = Builder();
        builder.Services.AddRedisEdge().AddIdempotency().AddRateLimiting().AddResponseCaching().AddSessions();
        await using var app = builder.Build();
        app.MapPost("/disabled", [DisableIdempotency] () => "ok").WithIdempotency();
        app.MapGet("/plain", () => "ok");
        await app.StartAsync();
        using var client = app.GetTestClient();

        using var disabled = await client.PostAsync("/disabled", null);
        using var plain = await client.GetAsync("/plain");

        Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
    }

    private WebApplicationBuilder Builder() => TestHost.CreateBuilder(new Dictionary<string, string?>
    {
        ["RedisEdge:Redis:Configuration"] = redis.Configuration,
        ["RedisEdge:Redis:KeyPrefix"] = RedisServerFixture.UniquePrefix(),
        ["RedisEdge:Idempotency:Failure:Timeout"] = "00:00:05",
        ["RedisEdge:Idempotency:Scope"] = "Header",
        ["RedisEdge:Idempotency:ScopeHeaderName"] = "X-Api-Key",
        ["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "FixedWindow",
        ["RedisEdge:RateLimiting:Policies:api:PermitLimit"] = "100",
        ["RedisEdge:RateLimiting:Policies:api:Window"] = "00:01:00",
        ["RedisEdge:RateLimiting:Policies:api:Partition"] = "Global",
        ["RedisEdge:ResponseCaching:Policies:page:Expire"] = "00:01:00",
    });

    private async Task<WebApplication> StartAsync(Feature feature, Placement placement, Action run, Action<Endpoint?>? observe = null)
    {
        var builder = Builder();
        var edge = builder.Services.AddRedisEdge();
        _ = feature switch
        {
            Feature.Idempotency => edge.AddIdempotency(),
            Feature.RateLimiting => edge.AddRateLimiting(),
            Feature.ResponseCaching => edge.AddResponseCaching(),
            _ => edge.AddSessions(),
        };

        var app = builder.Build();
        void UseFeature()
        {
            _ = feature switch
            {
                Feature.Idempotency => app.UseRedisIdempotency(),
                Feature.RateLimiting => app.UseRedisRateLimiting(),
                Feature.ResponseCaching => app.UseRedisResponseCaching(),
                _ => app.UseRedisSessions(),
            };
        }

        if (placement == Placement.BeforeExplicitRouting)
        {
            UseFeature();
        }

        app.UseRouting();
        if (placement == Placement.AfterRouting)
        {
            UseFeature();
        }

        IResult Handler(HttpContext context)
        {
            run();
            observe?.Invoke(context.GetEndpoint());
            return Results.Ok();
        }

        _ = feature switch
        {
            Feature.Idempotency => app.MapPost("/guarded", [Idempotent] (HttpContext c) => Handler(c)),
            Feature.RateLimiting => app.MapGet("/guarded", [RateLimit("api")] (HttpContext c) => Handler(c)),
            Feature.ResponseCaching => app.MapGet("/guarded", [CacheResponse("page")] (HttpContext c) => Handler(c)),
            _ => app.MapGet("/guarded", [ReadOnlySession] (HttpContext c) => Handler(c)),
        };

        await app.StartAsync();
        return app;
    }

    private static HttpRequestMessage Request(Feature feature, string key)
    {
        if (feature != Feature.Idempotency)
        {
            return new HttpRequestMessage(HttpMethod.Get, "/guarded");
        }

        var request = new HttpRequestMessage(HttpMethod.Post, "/guarded") { Content = new StringContent("{}") };
        request.Headers.Add("Idempotency-Key", $"\"{key}\"");
        request.Headers.Add("X-Api-Key", "guard-tests");
        return request;
    }
}
