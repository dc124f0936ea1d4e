using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>GCRA queues: a shadow queue never makes a request wait, and a request whose client gives up while it waits gives its slot back.</summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingQueueTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task ShadowGcraQueue_FiveConcurrentRequests_AllRunAtOnce_NoneWaits()
    {
        // The repro (a shadow queue of 1 per period, five requests at once) with a period of an hour: had the
        // shadow delays applied, request n would wait n - 1 hours. The handler holds every request until all five are
        // inside it at once, which no delayed request could be.
        var settings = new Dictionary<string, string?>()
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, Hour, ("MaxQueueDelay", "1.00:00:00"), ("Mode", "Shadow"));
        var inside = 0;
        var allInside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/q", async () =>
        {
            if (Interlocked.Increment(ref inside) == 5)
            {
                allInside.TrySetResult();
            }

            await allInside.Task;
            return "ok";
        }).RequireRateLimit("queue"));
        var metrics = fleet[0].Services.GetRequiredService<RateLimitingMetrics>();
        using var delays = new MeasurementRecorder<double>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.QueueDelayInstrument);
        using var decisions = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisRateLimitingDefaults.RequestsInstrument);

        using var stop = new CancellationTokenSource();
        var responses = Enumerable.Range(0, 5).Select(_ => fleet[0].Client.GetAsync("/q", stop.Token)).ToArray();
        try
        {
            // A guard against a hang, not a timing assertion: a delayed request would wait an hour.
            await allInside.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            await stop.CancelAsync();
            Assert.Fail($"Only {Volatile.Read(ref inside)} of 5 requests reached the handler; the others wait for their shadow slot.");
        }

        Assert.All(await Task.WhenAll(responses), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        // No request took the wait path (the histogram records every wait for a slot), none was rejected...
        Assert.Empty(delays.Measurements);
        Assert.Equal(5, decisions.Measurements.Count);
        Assert.All(decisions.Measurements, m => Assert.Equal("allowed", m.Tags[RedisRateLimitingDefaults.ResultTag]));

        // ...and the shadow policy still measured all five: its theoretical arrival time is five intervals ahead.
        var key = Assert.Single(await redis.KeysAsync(fleet.KeyPrefix + ":rl:"));
        var ahead = (double)await redis.Database.StringGetAsync(key) - await ServerMsAsync();
        Assert.InRange(ahead, 4 * Hour.TotalMilliseconds, 5 * Hour.TotalMilliseconds);
    }

    [Fact]
    public async Task QueuedRequestWhoseClientGivesUp_GivesBackItsSlotAndEveryPermitItTook()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, TimeSpan.FromMinutes(1), ("MaxQueueDelay", "00:10:00"))
            .Policy("window", RedisRateLimitAlgorithm.FixedWindow, 100, Hour)
            .Policy("log", RedisRateLimitAlgorithm.SlidingWindowLog, 100, Hour);
        var ran = 0;
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => app.MapGet("/q", () =>
        {
            Interlocked.Increment(ref ran);
            return "ok";
        }).RequireRateLimit("queue").RequireRateLimit("window").RequireRateLimit("log"));
        var db = redis.Database;

        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/q")).StatusCode); // the burst of one: no wait
        var keys = await redis.KeysAsync(fleet.KeyPrefix + ":rl:");
        RedisKey queue = keys.Single(k => k.EndsWith(":queue:gcra", StringComparison.Ordinal));
        RedisKey window = keys.Single(k => k.EndsWith(":window:fw", StringComparison.Ordinal));
        RedisKey log = keys.Single(k => k.EndsWith(":log:swl", StringComparison.Ordinal));
        var first = (double)await db.StringGetAsync(queue);

        // The second request reserves the next slot, a minute later, takes its other permits and waits.
        using var giveUp = new CancellationTokenSource();
        var waiting = fleet[0].Client.GetAsync("/q", giveUp.Token);
        Assert.True(await UntilAsync(async () => (double)await db.StringGetAsync(queue) > first + 30_000), "The second request never reserved its slot.");
        Assert.Equal(2, (long)await db.HashGetAsync(window, "c"));
        Assert.Equal(2, await db.SortedSetLengthAsync(log));

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        // Nothing ran for it, so everything it took goes back: the queue's next slot is free for the next request.
        Assert.True(
            await UntilAsync(async () => (long)await db.HashGetAsync(window, "c") == 1 && await db.SortedSetLengthAsync(log) == 1),
            "The abandoned request's permits were not given back.");
        Assert.InRange((double)await db.StringGetAsync(queue) - first, -1, 1);
        Assert.Equal(1, Volatile.Read(ref ran));
    }

    private async Task<double> ServerMsAsync() =>
        new DateTimeOffset(await redis.ServerTimeAsync(), TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Polls a Redis state (a background refund lands after the response); false if it never holds.</summary>
    private static async Task<bool> UntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }
}
