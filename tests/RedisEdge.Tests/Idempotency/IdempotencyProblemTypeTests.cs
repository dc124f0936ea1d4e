using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// RedisEdge's own answers carry their own problem <c>type</c>, so a client tells "retry later, same key" (in flight)
/// or "use a new key" (reused) from the application's own 409 or 422. The URIs are literals here on purpose: clients
/// compare them as strings, so changing one is a breaking change this test must notice.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyProblemTypeTests(RedisServerFixture redis)
{
    private const string Prefix = "tag:redisedge.dev,2026:idempotency:";

    [Fact]
    public async Task EveryAnswerOfTheMiddleware_HasItsOwnType_AndTheApplicationsOwnKeepTheirs()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) =>
            {
                app.MapPost("/orders", async () =>
                {
                    entered.TrySetResult();
                    await hold.Task;
                    return Results.Created("/orders/1", null);
                }).WithIdempotency();
                app.MapPost("/scoped", () => "ok").WithIdempotency("scoped");
                app.MapPost("/small", () => "ok").WithIdempotency("small");
                app.MapPost("/app-409", () => Results.Problem(statusCode: StatusCodes.Status409Conflict)).WithIdempotency();
                app.MapPost("/app-422", () => Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity)).WithIdempotency();
            },
            settings: new()
            {
                [$"{IdempotencyTestApp.Section}:Policies:scoped:Scope"] = "Header",
                [$"{IdempotencyTestApp.Section}:Policies:scoped:ScopeHeaderName"] = "X-Api-Key",
                [$"{IdempotencyTestApp.Section}:Policies:scoped:AnonymousFallback"] = "Reject",
                [$"{IdempotencyTestApp.Section}:Policies:small:MaxRequestBodySize"] = "10",
            });

        await AssertTypeAsync(await fleet[0].PostAsync("/orders", key: null), HttpStatusCode.BadRequest, "key-missing");
        await AssertTypeAsync(await fleet[0].PostAsync("/orders", "two words"), HttpStatusCode.BadRequest, "key-invalid");
        await AssertTypeAsync(await fleet[0].PostAsync("/scoped", "k-1"), HttpStatusCode.BadRequest, "caller-unidentified");
        await AssertTypeAsync(await fleet[0].PostAsync("/small", "k-1"), HttpStatusCode.RequestEntityTooLarge, "request-too-large");

        var first = fleet[0].PostAsync("/orders", "k-1");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await AssertTypeAsync(await fleet[0].PostAsync("/orders", "k-1"), HttpStatusCode.Conflict, "in-flight");
        hold.SetResult();
        Assert.Equal(HttpStatusCode.Created, (await first).StatusCode);
        await AssertTypeAsync(await fleet[0].PostAsync("/orders", "k-1", body: """{"item":"lamp"}"""), HttpStatusCode.UnprocessableEntity, "key-reused");

        // The application's own 409 and 422 are not RedisEdge's.
        foreach (var path in new[] { "/app-409", "/app-422" })
        {
            var own = await fleet[0].PostAsync(path, "k-app");
            Assert.DoesNotContain(Prefix, await TypeOfAsync(own), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task RedisUnreachable_TheRefusalHasTheStoreUnavailableType()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/orders", () => Interlocked.Increment(ref executions)).WithIdempotency(),
            settings: new()
            {
                // A port nothing listens on: the claim fails fast with a connection error.
                ["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,abortConnect=false,connectTimeout=200,connectRetry=0",
                [$"{IdempotencyTestApp.Section}:Failure:Timeout"] = "00:00:00.200",
            });

        var refused = await fleet[0].PostAsync("/orders", "k-down");
        await AssertTypeAsync(refused, HttpStatusCode.ServiceUnavailable, "store-unavailable");
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(0, executions);
    }

    private static async Task AssertTypeAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Prefix + type, await TypeOfAsync(response));
    }

    private static async Task<string> TypeOfAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("type", out var type) ? type.GetString() ?? string.Empty : string.Empty;
    }
}
