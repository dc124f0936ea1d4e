using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// What happens to a call Redis holds: concurrency leases are released on every path after the call was sent (a
/// timeout, after which the script still runs, and a client abort), and a rejection decided under limits a reload has
/// since replaced is not remembered. A private redis-server is paused (<c>CLIENT PAUSE WRITE</c>) to hold the call.
/// </summary>
public sealed class RateLimitingPausedRedisTests : PrivateRedisServerTests
{

    [Fact]
    public async Task RedisSlowerThanTheTimeout_TheLeaseTheLateScriptTakes_IsReleased()
    {
        await using var fleet = await StartAsync(beforeRateLimiting: null);
        var client = fleet[0].Client;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/work")).StatusCode); // loads both scripts

        await PauseWritesAsync();
        try
        {
            // Fails open after Failure:Timeout while the script waits in Redis.
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/work")).StatusCode);
        }
        finally
        {
            await UnpauseAsync();
        }

        // The late script took the only slot (a 60 s lease); the release queued behind it gave it back. This request's
        // call runs after both on the same connection, so it sees the outcome.
        var next = await client.GetAsync("/work");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.True(next.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader), "The request was not decided by Redis.");
    }

    [Fact]
    public async Task ClientAbortsWhileTheCallIsInRedis_TheLeaseIsReleased()
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await StartAsync(beforeRateLimiting: app => app.Use(async (context, next) =>
        {
            if (!context.Request.Query.ContainsKey("watch"))
            {
                await next(context);
                return;
            }

            // The middleware sends its script synchronously; once next returns a pending task, the call is in Redis.
            var pending = next(context);
            sent.TrySetResult();
            try
            {
                await pending;
            }
            finally
            {
                finished.TrySetResult(context.RequestAborted.IsCancellationRequested);
            }
        }));
        var client = fleet[0].Client;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/work")).StatusCode);

        await PauseWritesAsync();
        try
        {
            using var abort = new CancellationTokenSource();
            var request = client.GetAsync("/work?watch=1", abort.Token);
            await sent.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

            // The middleware gives up on the aborted request without waiting for Redis (and without a 500).
            Assert.True(await finished.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await UnpauseAsync();
        }

        var next = await client.GetAsync("/work");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.True(next.Headers.Contains(RedisRateLimitingDefaults.RateLimitHeader), "The request was not decided by Redis.");
    }

    [Fact]
    public async Task RejectionDecidedUnderTheOldLimits_LandingAfterAReload_IsNotRememberedLocally()
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 1, TimeSpan.FromHours(1));
        await using var fleet = await RateLimitTestApp.StartAsync(
            Server.Configuration,
            settings,
            (app, _) => app.MapGet("/r", () => "ok").RequireRateLimit("api"),
            beforeRateLimiting: (app, _) => app.Use(async (context, next) =>
            {
                var pending = next(context);
                sent.TrySetResult();
                await pending;
            }));
        var client = fleet[0].Client;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/r")).StatusCode);
        sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        HttpResponseMessage late;
        await PauseWritesAsync();
        try
        {
            // Evaluated under PermitLimit 1; the limit is raised to 3 while Redis holds the call.
            var request = client.GetAsync("/r");
            await sent.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var configuration = (IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>();
            configuration[$"{RateLimitTestApp.Section}:Policies:api:PermitLimit"] = "3";
            configuration.Reload();
            await UnpauseAsync();
            late = await request;
        }
        finally
        {
            await UnpauseAsync();
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, late.StatusCode);

        // The late rejection was stamped with the old policy set: Redis decides under the new limit.
        using var scope = fleet[0].Commands.Begin();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/r")).StatusCode);
        Assert.Equal(["EVAL"], scope.Commands);
    }

    private async Task<RedisFleet> StartAsync(Action<WebApplication>? beforeRateLimiting)
    {
        var settings = new Dictionary<string, string?>()
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 1, extra: ("LeaseTimeToLive", "00:01:00"));
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.300";
        return await RateLimitTestApp.StartAsync(
            Server.Configuration,
            settings,
            (app, _) => app.MapGet("/work", () => "ok").RequireRateLimit("conc"),
            beforeRateLimiting: beforeRateLimiting is null ? null : (app, _) => beforeRateLimiting(app));
    }

}
