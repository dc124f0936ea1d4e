using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Idempotency;

/// <summary>Leases: a dead instance's claim expires with its lease; a live one renews it however slow its handler.</summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyLeaseTests(RedisServerFixture redis)
{
    [Fact]
    public async Task InstanceDiesMidRequest_RetryGets409WithATruthfulRetryAfter_ThenExecutesOnceTheLeaseExpires()
    {
        var executions = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, i) => app.MapPost("/payments", async () =>
            {
                Interlocked.Increment(ref executions);
                if (i == 0)
                {
                    entered.TrySetResult();
                    await hold.Task;
                }

                return Results.Json(new { instance = i }, statusCode: 201);
            }).WithIdempotency(),
            instances: 2,
            settings: new() { [$"{IdempotencyTestApp.Section}:Lease"] = "00:00:02" });
        using var takeovers = new MeasurementRecorder<long>(
            fleet[1].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter, RedisIdempotencyDefaults.LeaseTakeoversInstrument);

        var stuck = fleet[0].PostAsync("/payments", "k-dead");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The instance dies mid-request: its Redis connection goes first, so it can neither renew, complete nor release.
        await fleet[0].Multiplexer.DisposeAsync();
        var record = Assert.Single(await redis.RecordKeysAsync(fleet));

        var conflict = await fleet[1].PostAsync("/payments", "k-dead");
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        var retryAfter = conflict.Headers.RetryAfter!.Delta!.Value;
        var remaining = await RemainingLeaseAsync(record);

        // Truthful: never earlier than the lease really ends, never later than a whole lease.
        Assert.True(retryAfter.TotalMilliseconds >= remaining, $"Retry-After {retryAfter} is earlier than the remaining lease of {remaining} ms.");
        Assert.InRange(retryAfter.TotalSeconds, 1, 2);

        var status = HttpStatusCode.Conflict;
        HttpResponseMessage? executed = null;
        for (var attempt = 0; attempt < 100 && status == HttpStatusCode.Conflict; attempt++)
        {
            await Task.Delay(100);
            executed = await fleet[1].PostAsync("/payments", "k-dead");
            status = executed.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.False(executed!.IsReplay());
        Assert.Equal("""{"instance":1}""", await executed!.Content.ReadAsStringAsync());
        Assert.Single(takeovers.Measurements);

        // The dead instance's handler finishing late stores nothing: the key belongs to the execution that took over.
        hold.SetResult();
        await Task.WhenAny(stuck, Task.Delay(TimeSpan.FromSeconds(10)));
        var replay = await fleet[1].PostAsync("/payments", "k-dead");
        Assert.True(replay.IsReplay());
        Assert.Equal("""{"instance":1}""", await replay.Content.ReadAsStringAsync());
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task HandlerSlowerThanTheLease_ExecutesOnce_BecauseTheLeaseIsRenewed()
    {
        var executions = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/reports", async () =>
            {
                Interlocked.Increment(ref executions);
                entered.TrySetResult();
                await hold.Task;
                return Results.Ok("report");
            }).WithIdempotency(configure: a => a.Lease = 1),
            instances: 2);
        using var scriptCalls = new MeasurementRecorder<double>(
            fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter, RedisFeatureTelemetry.ScriptDurationName);

        var slow = fleet[0].PostAsync("/reports", "k-slow");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Retries keep arriving for three leases' worth of time: the renewed claim refuses every one. Should one run
        // (a renewal starved past the lease), its handler would wait on the hold too: release it whatever happens, and
        // bound each call, so a failure is reported instead of hanging the run.
        try
        {
            for (var i = 0; i < 12; i++)
            {
                await Task.Delay(250);
                Assert.Equal(HttpStatusCode.Conflict, (await fleet[1].PostAsync("/reports", "k-slow").WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
            }
        }
        finally
        {
            hold.TrySetResult();
        }

        Assert.Equal(HttpStatusCode.OK, (await slow).StatusCode);
        Assert.True((await fleet[1].PostAsync("/reports", "k-slow")).IsReplay());
        Assert.Equal(1, executions);
        var renewals = scriptCalls.Measurements.Count(m => (string?)m.Tags["redisedge.script"] == "renew");
        Assert.True(renewals >= 2, $"{renewals} renewals for a handler that ran three leases.");
    }

    [Fact]
    public async Task InstanceStalledPastItsLease_AnotherBodyUnderItsKey_Is422AndNeverRuns_TheSameBodyTakesOverOnce()
    {
        var executions = new int[3];
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stall = new StallableTimeProvider();
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, i) => app.MapPost("/orders", async () =>
            {
                Interlocked.Increment(ref executions[i]);
                if (i == 0)
                {
                    entered.TrySetResult();
                    await hold.Task;
                }

                return Results.Json(new { instance = i }, statusCode: 201);
            }).WithIdempotency(),
            instances: 3,
            settings: new() { [$"{IdempotencyTestApp.Section}:Lease"] = "00:00:01" },
            services: (builder, i) =>
            {
                if (i == 0)
                {
                    builder.Services.AddSingleton<TimeProvider>(stall);
                }
            });

        var stalled = fleet[0].PostAsync("/orders", "k-stall", """{"item":"book","quantity":1}""");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Instance A stalls mid-handler: it neither renews nor finishes, and its lease runs out on the Redis clock.
        stall.Stall();
        await WaitForLeaseToExpireAsync(Assert.Single(await redis.RecordKeysAsync(fleet)));

        // A different request under the stalled key is refused, never run in its place.
        var reused = await fleet[1].PostAsync("/orders", "k-stall", """{"item":"book","quantity":2}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Equal(0, executions[1]);

        // The same request, retried, takes over once: A never completed.
        var retried = await fleet[2].PostAsync("/orders", "k-stall", """{"item":"book","quantity":1}""");
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.Equal("""{"instance":2}""", await retried.Content.ReadAsStringAsync());

        // A resumes: its caller gets its own answer, which is not stored over the execution that took over.
        stall.Resume();
        hold.SetResult();
        Assert.Equal(HttpStatusCode.Created, (await stalled.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        var replay = await fleet[1].PostAsync("/orders", "k-stall", """{"item":"book","quantity":1}""");
        Assert.True(replay.IsReplay());
        Assert.Equal("""{"instance":2}""", await replay.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await fleet[1].PostAsync("/orders", "k-stall", """{"item":"book","quantity":2}""")).StatusCode);
        Assert.Equal([1, 0, 1], executions);
    }

    [Fact]
    public async Task HandlerSeesItsClaimOnTheFeature_AndLeaseLostFires_WhenAStallLetAnotherInstanceTakeItOver()
    {
        var features = new IIdempotencyFeature?[2];
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stall = new StallableTimeProvider();
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, i) =>
            {
                app.MapPost("/orders", async (HttpContext context) =>
                {
                    var feature = context.Features.Get<IIdempotencyFeature>();
                    features[i] = feature;
                    if (i == 0)
                    {
                        feature!.LeaseLost.Register(() => lost.TrySetResult());
                        entered.TrySetResult();
                        await hold.Task;
                    }

                    return Results.Json(new { instance = i }, statusCode: 201);
                }).WithIdempotency();
                app.MapPost("/plain", (HttpContext context) => context.Features.Get<IIdempotencyFeature>() is null ? "absent" : "present");
            },
            instances: 2,
            settings: new() { [$"{IdempotencyTestApp.Section}:Lease"] = "00:00:01" },
            services: (builder, i) =>
            {
                if (i == 0)
                {
                    builder.Services.AddSingleton<TimeProvider>(stall);
                }
            });

        var stalled = fleet[0].PostAsync("/orders", "k-fenced", apiKey: null);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var first = features[0]!;
        Assert.Equal("k-fenced", first.Key);
        Assert.False(string.IsNullOrEmpty(first.CallerScope));
        Assert.False(first.IsTakeover);
        Assert.Matches("^[0-9A-F]{32}$", first.OwnerToken);
        Assert.True(first.FencingToken > 0);

        stall.Stall();
        var record = Assert.Single(await redis.RecordKeysAsync(fleet));
        await WaitForLeaseToExpireAsync(record);
        Assert.Equal(first.OwnerToken, (string?)await redis.Database.HashGetAsync(record, "own"));

        var takeover = await fleet[1].PostAsync("/orders", "k-fenced");
        Assert.Equal(HttpStatusCode.Created, takeover.StatusCode);
        var second = features[1]!;
        Assert.True(second.IsTakeover);
        Assert.Equal(first.Key, second.Key);
        Assert.Equal(first.CallerScope, second.CallerScope);
        Assert.NotEqual(first.OwnerToken, second.OwnerToken);
        Assert.True(second.FencingToken > first.FencingToken, $"Fencing token {second.FencingToken} after {first.FencingToken}.");
        Assert.False(first.LeaseLost.IsCancellationRequested);

        // A resumes: its next renewal finds the key taken over, and tells the handler still running.
        stall.Resume();
        await lost.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(first.LeaseLost.IsCancellationRequested);
        Assert.False(second.LeaseLost.IsCancellationRequested);
        hold.SetResult();
        Assert.Equal(HttpStatusCode.Created, (await stalled.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        Assert.Equal("""{"instance":1}""", await (await fleet[0].PostAsync("/orders", "k-fenced")).Content.ReadAsStringAsync());
        Assert.Equal("absent", await (await fleet[0].Client.PostAsync("/plain", null)).Content.ReadAsStringAsync());
    }

    /// <summary>Polls (bounded) until the record's lease has run out on the Redis clock; the caller asserts outcomes, not times.</summary>
    private async Task WaitForLeaseToExpireAsync(string record)
    {
        for (var attempt = 0; attempt < 200 && await RemainingLeaseAsync(record) > 0; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.True(await RemainingLeaseAsync(record) <= 0, "The stalled instance's lease never ran out.");
    }

    private async Task<long> RemainingLeaseAsync(string record)
    {
        var expiry = (long)await redis.Database.HashGetAsync(record, "exp");
        var now = await redis.Database.ExecuteAsync("TIME");
        var parts = (RedisResult[])now!;
        var nowMs = (long)parts[0] * 1000 + (long)parts[1] / 1000;
        return expiry - nowMs;
    }
}
