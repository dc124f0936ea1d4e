using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// Concurrency and GCRA queue policies as <see cref="RateLimiter"/>s: a concurrency lease is held in Redis until the
/// <see cref="RateLimitLease"/> is disposed and released exactly once; a queue acquisition waits the delay the script
/// computed, and a cancelled wait gives its slot back.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisRateLimiterLeaseTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static IRedisRateLimiterFactory Factory(RedisFleetInstance instance) => instance.Services.GetRequiredService<IRedisRateLimiterFactory>();

    [Fact]
    public async Task Concurrency_ThreeInstances64CallersEach_NeverMoreThanThePermitLimitHeld_AndEveryCallerServed()
    {
        const int limit = 5;
        const int callers = 64;
        var settings = new Dictionary<string, string?>().Policy("conc", RedisRateLimitAlgorithm.Concurrency, limit);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 3);
        var limiters = fleet.Instances.Select(i => Factory(i).Create("conc", "any")).ToList();
        int inFlight = 0, maxInFlight = 0, served = 0, refused = 0;
        long maxHeldInRedis = 0;
        var releases = new System.Collections.Concurrent.ConcurrentBag<Task>();

        var callersDone = Enumerable.Range(0, 3 * callers).Select(async c =>
        {
            var limiter = limiters[c % 3];
            while (true)
            {
                var lease = await limiter.AcquireAsync();
                if (!lease.IsAcquired)
                {
                    Interlocked.Increment(ref refused);
                    Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
                    await Task.Delay(Random.Shared.Next(5, 30));
                    continue;
                }

                // Counted down before the dispose that releases in Redis: what this sees held is at most what Redis holds.
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref maxInFlight, now);
                if (c % 16 == 0)
                {
                    var keys = await redis.KeysAsync(fleet.KeyPrefix + ":rl:");
                    InterlockedMax(ref maxHeldInRedis, await redis.Database.SortedSetLengthAsync(keys.Single()));
                }

                await Task.Yield();
                Interlocked.Decrement(ref inFlight);
                Interlocked.Increment(ref served);
                lease.Dispose();
                releases.Add(((RedisConcurrencyLease)lease).Released);
                return;
            }
        });
        await Task.WhenAll(callersDone);

        Assert.Equal(3 * callers, served);
        Assert.InRange(maxInFlight, 1, limit);
        Assert.InRange(maxHeldInRedis, 1, limit);
        Assert.True(refused > 0, "The callers never contended for the slots.");

        // Every lease was disposed: once the releases land, nothing is held (an empty lease set is no key).
        await Task.WhenAll(releases);
        Assert.Empty(await redis.KeysAsync(fleet.KeyPrefix + ":rl:"));
    }

    [Fact]
    public async Task DisposingALease_FreesItsSlotInRedis_DisposingTwiceReleasesOnce()
    {
        var settings = new Dictionary<string, string?>().Policy("conc", RedisRateLimitAlgorithm.Concurrency, 2);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 2);
        var a = Factory(fleet[0]).Create("conc", "k");
        var b = Factory(fleet[1]).Create("conc", "k");

        var first = await a.AcquireAsync();
        var second = await b.AcquireAsync();
        Assert.True(first.IsAcquired && second.IsAcquired);
        var key = (await redis.KeysAsync(fleet.KeyPrefix + ":rl:")).Single();
        Assert.Equal(2, await redis.Database.SortedSetLengthAsync(key));
        using (var full = await a.AcquireAsync())
        {
            Assert.False(full.IsAcquired);
            Assert.True(full.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
        }

        using (var scope = fleet[0].Commands.Begin())
        {
            first.Dispose();
            await ((RedisConcurrencyLease)first).Released;
            first.Dispose();
            await ((RedisConcurrencyLease)first).Released;

            // One release script for two disposes.
            Assert.Equal(["EVAL"], scope.Commands);
        }

        Assert.Equal(1, await redis.Database.SortedSetLengthAsync(key));
        using var again = await b.AcquireAsync();
        Assert.True(again.IsAcquired);
        Assert.Equal(2, await redis.Database.SortedSetLengthAsync(key));
        second.Dispose();
        again.Dispose();
        await ((RedisConcurrencyLease)second).Released;
        await ((RedisConcurrencyLease)again).Released;
        Assert.Equal(0, await redis.Database.SortedSetLengthAsync(key));
    }

    [Fact]
    public async Task LeaseNeverDisposed_ExpiresInRedisAfterLeaseTimeToLive_AndItsSlotServesAgain()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 1, extra: ("LeaseTimeToLive", "00:00:01"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var limiter = Factory(fleet[0]).Create("conc", "k");

        var abandoned = await limiter.AcquireAsync();
        Assert.True(abandoned.IsAcquired);
        using (var refused = await limiter.AcquireAsync())
        {
            Assert.False(refused.IsAcquired);
            Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry <= TimeSpan.FromSeconds(1));
        }

        // Never disposed: Redis drops the member once its time-to-live passes, on the next call for the key.
        RateLimitLease? next = null;
        Assert.True(await UntilAsync(async () =>
        {
            next = await limiter.AcquireAsync();
            return next.IsAcquired;
        }), "The abandoned lease never expired.");
        next!.Dispose();
        GC.KeepAlive(abandoned);
    }

    [Fact]
    public async Task GcraQueue_NineAcquiresFromThreeInstances_AllGranted_DelaysTheScriptReturnedAreOneIntervalApart()
    {
        // Five per second with a burst of one: a 200 ms emission interval; the ninth waits eight intervals.
        const int count = 9;
        const double intervalMs = 200;
        var settings = new Dictionary<string, string?>()
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 5, TimeSpan.FromSeconds(1), ("Burst", "1"), ("MaxQueueDelay", "00:00:05"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 3);
        var limiters = fleet.Instances.Select(i => Factory(i).Create("queue", "k")).ToList();
        var delays = fleet.Instances.Select(i => new MeasurementRecorder<double>(
            i.Services.GetRequiredService<RateLimitingMetrics>().Telemetry.Meter, RedisRateLimitingDefaults.QueueDelayInstrument)).ToList();

        var acquires = Enumerable.Range(0, count).Select(i => limiters[i % 3].AcquireAsync().AsTask()).ToList();
        Assert.True(await UntilAsync(() => Task.FromResult(delays.Sum(d => d.Measurements.Count) == count)), "Not every acquisition was decided.");

        // Every decision is made; the queue key's theoretical arrival time is the first decision's time plus nine
        // intervals. Decisions came at most `slack` ms after the first (both on the Redis clock).
        var afterMs = await ServerMsAsync();
        var key = (await redis.KeysAsync(fleet.KeyPrefix + ":rl:")).Single();
        var firstMs = (double)await redis.Database.StringGetAsync(key) - count * intervalMs;
        var slack = afterMs - firstMs;
        Assert.InRange(slack, 0, intervalMs * count);

        var leases = await Task.WhenAll(acquires);
        Assert.All(leases, l => Assert.True(l.IsAcquired));

        // The k-th decision waited k intervals less the time since the first decision: spaced one interval apart.
        var sorted = delays.SelectMany(d => d.Measurements).Select(m => m.Value * 1000).Order().ToList();
        for (var k = 0; k < count; k++)
        {
            Assert.InRange(sorted[k], k * intervalMs - slack - 1, k * intervalMs + 1);
        }

        Assert.Equal(count, limiters.Sum(l => l.GetStatistics()!.TotalSuccessfulLeases));
        Assert.All(limiters, l => Assert.Equal(0, l.GetStatistics()!.CurrentQueuedCount));
        delays.ForEach(d => d.Dispose());
    }

    [Fact]
    public async Task GcraQueue_BeyondMaxQueueDelay_RefusedWithRetryAfter_ACancelledWaitGivesItsSlotBack()
    {
        // One per hour, a burst of one, at most 90 minutes in the queue: the second waits an hour, the third is refused.
        var settings = new Dictionary<string, string?>()
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, Hour, ("Burst", "1"), ("MaxQueueDelay", "01:30:00"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 2, configure: o => o.LocalDenyCache = false);
        var limiter = Factory(fleet[0]).Create("queue", "k");
        var other = Factory(fleet[1]).Create("queue", "k");

        using (var first = await limiter.AcquireAsync())
        {
            Assert.True(first.IsAcquired);
        }

        var key = (await redis.KeysAsync(fleet.KeyPrefix + ":rl:")).Single();
        var afterFirst = (double)await redis.Database.StringGetAsync(key);

        using var giveUp = new CancellationTokenSource();
        var waiting = limiter.AcquireAsync(1, giveUp.Token).AsTask();
        Assert.True(await UntilAsync(() => Task.FromResult(limiter.GetStatistics()!.CurrentQueuedCount == 1)), "The second acquisition never queued.");
        Assert.InRange((double)await redis.Database.StringGetAsync(key) - afterFirst, Hour.TotalMilliseconds - 1, Hour.TotalMilliseconds + 1);

        using (var refused = await other.AcquireAsync())
        {
            Assert.False(refused.IsAcquired);
            Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retry));
            Assert.InRange(retry, TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(30));
        }

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        // The refund landed before the cancellation surfaced: the queue is back to one hour of room.
        Assert.InRange((double)await redis.Database.StringGetAsync(key) - afterFirst, -1, 1);
        Assert.Equal(0, limiter.GetStatistics()!.CurrentQueuedCount);
        using var giveUpAgain = new CancellationTokenSource();
        var queuedAgain = other.AcquireAsync(1, giveUpAgain.Token).AsTask();
        Assert.True(await UntilAsync(() => Task.FromResult(other.GetStatistics()!.CurrentQueuedCount == 1)), "The slot the cancelled wait gave back was not queued for.");
        await giveUpAgain.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queuedAgain);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var was && was != seen)
        {
            seen = was;
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var was && was != seen)
        {
            seen = was;
        }
    }

    private async Task<double> ServerMsAsync() =>
        new DateTimeOffset(await redis.ServerTimeAsync(), TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Polls a state (a background release lands after the dispose); false if it never holds within 15 s.</summary>
    private static async Task<bool> UntilAsync(Func<Task<bool>> condition)
    {
        for (var attempt = 0; attempt < 300; attempt++)
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
