using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// Idempotency and rate limiting in one app, in the order the README prescribes (idempotency first): a retry of a
/// completed request gets its stored response even when the caller's quota is spent, while new executions stay limited
/// and the key a limited execution claimed is released rather than replaying the 429.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyRateLimitingTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ReplayOfACompletedRequest_IsServedWhenTheQuotaIsSpent_WhileANewExecutionIsLimitedAndReleased()
    {
        var executions = 0;
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            2,
            (builder, _) => builder.Services.AddRedisEdge().AddIdempotency().AddRateLimiting(),
            (app, _) =>
            {
                app.Use(IdempotencyTestApp.AuthenticateAsync);
                app.UseRedisIdempotency();
                app.UseRedisRateLimiting();
                app.MapPost("/orders", () => Results.Json(new { order = Interlocked.Increment(ref executions) }, statusCode: StatusCodes.Status201Created))
                    .WithIdempotency()
                    .RequireRateLimit("orders");
            },
            new Dictionary<string, string?>
            {
                ["RedisEdge:Idempotency:Failure:Timeout"] = "00:00:05",
                ["RedisEdge:RateLimiting:Failure:Timeout"] = "00:00:05",
                ["RedisEdge:RateLimiting:Policies:orders:Algorithm"] = "SlidingWindowLog",
                ["RedisEdge:RateLimiting:Policies:orders:PermitLimit"] = "1",
                ["RedisEdge:RateLimiting:Policies:orders:Window"] = "01:00:00",
                ["RedisEdge:RateLimiting:Policies:orders:Partition"] = "Global",
            });

        var first = await fleet[0].PostAsync("/orders", "order-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        // The client timed out and retries on another replica: its quota is spent, its order is not paid twice, and it
        // gets the stored response rather than a 429.
        var retry = await fleet[1].PostAsync("/orders", "order-1");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.True(retry.IsReplay());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());

        // A new order is limited, and its 429 is not stored: once the quota allows, the same key executes.
        var limited = await fleet[1].PostAsync("/orders", "order-2");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var limitedAgain = await fleet[0].PostAsync("/orders", "order-2");
        Assert.Equal(HttpStatusCode.TooManyRequests, limitedAgain.StatusCode);
        Assert.False(limitedAgain.IsReplay());
        Assert.Single(await redis.RecordKeysAsync(fleet));
        Assert.Equal(1, executions);
    }
}
