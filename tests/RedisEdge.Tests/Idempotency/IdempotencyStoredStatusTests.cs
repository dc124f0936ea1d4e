using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// Which answers are the outcome of a request (stored, replayed for the retention) and which are transient (the key
/// is released and the retry runs again): the defaults of <c>StoredStatusCodes</c> and the 5xx opt-in.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyStoredStatusTests(RedisServerFixture redis)
{
    [Theory]
    [InlineData(StatusCodes.Status429TooManyRequests)]
    [InlineData(StatusCodes.Status409Conflict)]
    [InlineData(StatusCodes.Status408RequestTimeout)]
    [InlineData(StatusCodes.Status423Locked)]
    [InlineData(StatusCodes.Status401Unauthorized)]
    [InlineData(StatusCodes.Status403Forbidden)]
    public async Task TransientOrCredentialAnswer_FromTheHandler_ReleasesTheKey_SoTheRetryExecutes(int status)
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", () => Interlocked.Increment(ref executions) == 1
                ? Results.Problem(statusCode: status)
                : Results.Json(new { paid = true }, statusCode: StatusCodes.Status201Created)).WithIdempotency(), instances: 2);

        Assert.Equal(status, (int)(await fleet[0].PostAsync("/orders", "k-transient")).StatusCode);
        Assert.Empty(await redis.RecordKeysAsync(fleet));

        var retry = await fleet[1].PostAsync("/orders", "k-transient");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.False(retry.IsReplay());
        Assert.True((await fleet[0].PostAsync("/orders", "k-transient")).IsReplay());
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task SeeOtherAfterAPost_IsTheOutcome_StoredAndReplayedWithItsLocation()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", (HttpContext context) =>
            {
                var n = Interlocked.Increment(ref executions);
                context.Response.StatusCode = StatusCodes.Status303SeeOther;
                context.Response.Headers.Location = $"/orders/{n}";
            }).WithIdempotency());

        var first = await fleet[0].PostAsync("/orders", "k-303");
        Assert.Equal(HttpStatusCode.SeeOther, first.StatusCode);
        var replay = await fleet[0].PostAsync("/orders", "k-303");
        Assert.Equal(HttpStatusCode.SeeOther, replay.StatusCode);
        Assert.True(replay.IsReplay());
        Assert.Equal("/orders/1", replay.Headers.Location?.OriginalString);
        Assert.Equal(1, executions);
    }

    [Theory]
    [InlineData(StatusCodes.Status400BadRequest)]
    [InlineData(StatusCodes.Status404NotFound)]
    [InlineData(StatusCodes.Status410Gone)]
    [InlineData(StatusCodes.Status422UnprocessableEntity)]
    public async Task DeterministicClientError_IsStoredAndReplayed(int status)
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", () =>
            {
                Interlocked.Increment(ref executions);
                return Results.Problem(statusCode: status);
            }).WithIdempotency());

        Assert.Equal(status, (int)(await fleet[0].PostAsync("/orders", "k-4xx")).StatusCode);
        var replay = await fleet[0].PostAsync("/orders", "k-4xx");
        Assert.Equal(status, (int)replay.StatusCode);
        Assert.True(replay.IsReplay());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task ServerError_IsStoredOnlyWhereItIsListed()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/default", () => { Interlocked.Increment(ref executions); return Results.StatusCode(500); }).WithIdempotency();
            app.MapPost("/opt-in", () => { Interlocked.Increment(ref executions); return Results.StatusCode(500); })
                .WithIdempotency(configure: a => a.StoredStatusCodes = "2xx,500");
        });

        Assert.Equal(HttpStatusCode.InternalServerError, (await fleet[0].PostAsync("/default", "k-500")).StatusCode);
        Assert.False((await fleet[0].PostAsync("/default", "k-500")).IsReplay());
        Assert.Equal(2, executions);

        Assert.Equal(HttpStatusCode.InternalServerError, (await fleet[0].PostAsync("/opt-in", "k-500")).StatusCode);
        var replay = await fleet[0].PostAsync("/opt-in", "k-500");
        Assert.Equal(HttpStatusCode.InternalServerError, replay.StatusCode);
        Assert.True(replay.IsReplay());
        Assert.Equal(3, executions);
    }
}
