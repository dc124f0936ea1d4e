using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// Settling an execution (storing its response, or releasing its key) when Redis or the breaker stands in the way: a
/// handler that ran never becomes runnable again because its outcome could not be stored. A private redis-server per
/// test, paused or out of memory on purpose.
/// </summary>
public sealed class IdempotencySettlementTests : PrivateRedisServerTests
{
    [Fact]
    public async Task BreakerOpenedByOtherRequests_TheRunningHandlersResponseIsStillStored_AndReplayedOnAnotherInstance()
    {
        var executions = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await StartAsync(3, Settings(lease: "00:00:02"), entered, hold, () => Interlocked.Increment(ref executions));
        await WarmUpAsync(fleet);

        var held = fleet[0].PostAsync("/held", "k-held");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Other requests on the same instance time out on their claims while Redis holds writes: its breaker opens.
        await PauseWritesAsync();
        try
        {
            var others = await Task.WhenAll(fleet[0].PostAsync("/fast", "k-other-1"), fleet[0].PostAsync("/fast", "k-other-2"));
            Assert.All(others, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));
        }
        finally
        {
            await UnpauseAsync();
        }

        var runner = fleet[0].Services.GetRequiredService<IdempotencyStore>().Runner;
        Assert.True(runner.IsCircuitOpen);

        hold.SetResult();
        var first = await held.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.True(runner.IsCircuitOpen, "The breaker closed, so the test no longer shows a completion past an open one.");

        // A retry on another instance gets the stored response: not a 409 for the lease, not a second execution after it.
        var retry = await RetryWhileInFlightAsync(fleet[2], "/held", "k-held");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.True(retry.IsReplay());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task ResponseCannotBeStoredForTheWholeBudget_TheKeyIsMarkedOutcomeUnknown_AndNeverRunsAgain()
    {
        var executions = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await StartAsync(2, Settings(lease: "00:00:01"), entered, hold, () => Interlocked.Increment(ref executions));
        await WarmUpAsync(fleet);
        using var unknown = new MeasurementRecorder<long>(
            fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter, RedisIdempotencyDefaults.OutcomeUnknownInstrument);

        var held = fleet[0].PostAsync("/held", "k-lost");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var record = await InFlightRecordAsync(fleet);

        // Redis refuses every write that needs memory (noeviction) for longer than the settlement budget: the response
        // cannot be stored.
        await Admin.GetDatabase().ExecuteAsync("EVAL", "redis.call('SET', KEYS[1], string.rep('x', 2097152))", 1, "ballast");
        await AdminServer.ConfigSetAsync("maxmemory-policy", "noeviction");
        await AdminServer.ConfigSetAsync("maxmemory", "1mb");
        try
        {
            hold.SetResult();

            // The caller gets the handler's answer at once; the settlement goes on in the background for its budget.
            Assert.Equal(HttpStatusCode.Created, (await held.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
            for (var attempt = 0; attempt < 100 && (string?)await Admin.GetDatabase().HashGetAsync(record, "st") == "r"; attempt++)
            {
                await Task.Delay(100);
            }
        }
        finally
        {
            await AdminServer.ConfigSetAsync("maxmemory", "0");
        }

        Assert.Equal("u", (string?)await Admin.GetDatabase().HashGetAsync(record, "st"));
        Assert.InRange((await Admin.GetDatabase().KeyTimeToLiveAsync(record))!.Value, TimeSpan.FromHours(23), TimeSpan.FromHours(24));
        Assert.Equal("marked", Assert.Single(unknown.Measurements).Tags[RedisIdempotencyDefaults.ReasonTag]);

        // Long after the lease, on another instance: the key answers outcome-unknown and the handler does not run again.
        for (var i = 0; i < 3; i++)
        {
            var retry = await fleet[1].PostAsync("/held", "k-lost");
            Assert.Equal(HttpStatusCode.Conflict, retry.StatusCode);
            Assert.Null(retry.Headers.RetryAfter);
            using var problem = JsonDocument.Parse(await retry.Content.ReadAsStringAsync());
            Assert.Equal(RedisIdempotencyDefaults.OutcomeUnknownProblemType, problem.RootElement.GetProperty("type").GetString());
            await Task.Delay(500);
        }

        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await fleet[1].PostAsync("/held", "k-lost", """{"item":"pen"}""")).StatusCode);
        Assert.Equal(1, executions);

        // An operator who checked the outcome clears the key by deleting its record: the next request runs.
        await Admin.GetDatabase().KeyDeleteAsync(record);
        Assert.Equal(HttpStatusCode.Created, (await fleet[1].PostAsync("/held", "k-lost")).StatusCode);
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task ClaimTimesOutOnTheClientButLandsInRedis_IsReleased_SoTheRetryRunsInsteadOf409ForTheLease()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var executions = 0;
        await using var fleet = await StartAsync(2, Settings(lease: "00:00:30"), entered, hold, () => Interlocked.Increment(ref executions));
        await WarmUpAsync(fleet);
        using var releases = new MeasurementRecorder<long>(
            fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter, RedisIdempotencyDefaults.ReleasesInstrument);

        // Redis holds the claim past the client's 500 ms budget: 503, and the claim runs once Redis resumes.
        await PauseWritesAsync();
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await fleet[0].PostAsync("/held", "k-late")).StatusCode);
        }
        finally
        {
            await UnpauseAsync();
        }

        Assert.Equal("claim_failed", Assert.Single(releases.Measurements).Tags[RedisIdempotencyDefaults.ReasonTag]);

        // The claim that landed was released behind it: the retry on another instance executes instead of getting 409 for
        // the 30 s lease. Polled (bounded) only because that instance's connection may overtake the release.
        var retry = await RetryWhileInFlightAsync(fleet[1], "/held", "k-late");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.False(retry.IsReplay());
        Assert.Equal(1, executions);
        Assert.True((await fleet[0].PostAsync("/held", "k-late")).IsReplay());
    }

    [Fact]
    public async Task ClientGoesAwayWhileTheClaimIsInRedis_TheClaimIsReleased_SoTheRetryRuns()
    {
        var executions = 0;
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(
            Server.Configuration,
            (app, _) => app.MapPost("/orders", () =>
            {
                Interlocked.Increment(ref executions);
                return Results.Json(new { ok = true }, statusCode: 201);
            }).WithIdempotency(),
            instances: 2,
            settings: new() { [$"{IdempotencyTestApp.Section}:Lease"] = "00:00:30" },
            beforeIdempotency: (app, _) => app.Use(async (context, next) =>
            {
                // The claim is sent synchronously; once next returns a pending task, it is in Redis.
                var pending = next(context);
                if (context.Request.Headers.ContainsKey("X-Watch"))
                {
                    sent.TrySetResult();
                }

                await pending;
            }));
        Assert.Equal(HttpStatusCode.Created, (await fleet[0].PostAsync("/orders", "k-warm")).StatusCode);

        await PauseWritesAsync();
        try
        {
            using var abort = new CancellationTokenSource();
            using var request = IdempotencyTestApp.Post("/orders", "k-gone");
            request.Headers.Add("X-Watch", "1");
            var response = fleet[0].Client.SendAsync(request, abort.Token);
            await sent.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => response);
        }
        finally
        {
            await UnpauseAsync();
        }

        var retry = await RetryWhileInFlightAsync(fleet[1], "/orders", "k-gone");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.False(retry.IsReplay());
        Assert.Equal(2, executions);
    }

    private static Dictionary<string, string?> Settings(string lease) => new()
    {
        [$"{IdempotencyTestApp.Section}:Lease"] = lease,
        [$"{IdempotencyTestApp.Section}:Failure:Timeout"] = "00:00:00.500",
        [$"{IdempotencyTestApp.Section}:Failure:BreakAfterFailures"] = "2",
        [$"{IdempotencyTestApp.Section}:Failure:BreakDuration"] = "00:01:00",
    };

    /// <summary><c>/held</c> runs on instance 0 until <paramref name="hold"/> is set, counting executions; <c>/fast</c> answers at once.</summary>
    private Task<RedisFleet> StartAsync(int instances, Dictionary<string, string?> settings, TaskCompletionSource entered, TaskCompletionSource hold, Action executed) =>
        IdempotencyTestApp.StartAsync(
            Server.Configuration,
            (app, i) =>
            {
                app.MapPost("/held", async () =>
                {
                    executed();
                    if (i == 0)
                    {
                        entered.TrySetResult();
                        await hold.Task;
                    }

                    return Results.Json(new { instance = i }, statusCode: 201);
                }).WithIdempotency();
                app.MapPost("/fast", () => Results.Ok()).WithIdempotency();
            },
            instances,
            settings);

    /// <summary>Every instance runs every script once, so the test's Redis trouble hits calls, not script loading. A first
    /// call slower than the short budget on a loaded machine answers 503; it is retried (bounded) under a fresh key.</summary>
    private static async Task WarmUpAsync(RedisFleet fleet)
    {
        foreach (var instance in fleet.Instances)
        {
            var key = $"warm-{instance.Index}";
            var response = await instance.PostAsync("/fast", key);
            for (var attempt = 1; attempt < 20 && response.StatusCode != HttpStatusCode.OK; attempt++)
            {
                key = $"warm-{instance.Index}-{attempt}";
                response = await instance.PostAsync("/fast", key);
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True((await instance.PostAsync("/fast", key)).IsReplay());
        }

        Assert.All(fleet.Instances, i => Assert.False(i.Services.GetRequiredService<IdempotencyStore>().Runner.IsCircuitOpen));
    }

    /// <summary>The one in-flight record of the fleet (the warm-up's are completed).</summary>
    private async Task<string> InFlightRecordAsync(RedisFleet fleet)
    {
        var keys = new List<string>();
        foreach (var candidate in AdminServer.Keys(pattern: fleet.KeyPrefix + ":" + RedisIdempotencyDefaults.KeyFeature + ":*"))
        {
            if ((string?)await Admin.GetDatabase().HashGetAsync(candidate, "st") == "r")
            {
                keys.Add(candidate.ToString());
            }
        }

        return Assert.Single(keys);
    }

    /// <summary>Retries while the answer is the in-flight 409 (bounded): a completion that was never stored shows as a
    /// takeover once the lease runs out; a stored one as the replay at once.</summary>
    private static async Task<HttpResponseMessage> RetryWhileInFlightAsync(RedisFleetInstance instance, string path, string key)
    {
        var response = await instance.PostAsync(path, key);
        for (var attempt = 0; attempt < 60 && response.StatusCode == HttpStatusCode.Conflict; attempt++)
        {
            await Task.Delay(100);
            response = await instance.PostAsync(path, key);
        }

        return response;
    }
}
