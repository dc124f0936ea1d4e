using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// A concurrency acquisition whose caller gives up while Redis holds the call (a private redis-server paused with
/// <c>CLIENT PAUSE WRITE</c>): the caller is not kept waiting, and the lease Redis grants afterwards is released.
/// </summary>
public sealed class RedisRateLimiterPausedRedisTests : PrivateRedisServerTests
{
    [Fact]
    public async Task ConcurrencyAcquireCancelledWhileRedisHoldsTheCall_TheGrantArrivingAfterwardsIsReleased()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 1, extra: ("LeaseTimeToLive", "00:01:00"));
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:10";
        await using var fleet = await RateLimitTestApp.StartAsync(Server.Configuration, settings, (_, _) => { });
        var limiter = fleet[0].Services.GetRequiredService<IRedisRateLimiterFactory>().Create("conc", "k");

        // Loads both scripts, so the held call is the acquisition itself.
        var warm = await limiter.AcquireAsync();
        Assert.True(warm.IsAcquired);
        warm.Dispose();
        await ((RedisConcurrencyLease)warm).Released;

        await CancelWhileRedisHoldsTheCallAsync(limiter);

        // Redis grants the held call once unpaused, and the lease is released on the answer: the only slot serves
        // again long before the lease's 60 s time-to-live.
        Assert.True(await UntilGrantedAsync(limiter), "The lease granted to the cancelled acquisition was never released.");

        // The cancelled acquisition was never handed to the caller: only the warm-up and the final lease count.
        Assert.Equal(2, limiter.GetStatistics()!.TotalSuccessfulLeases);
    }

    [Fact]
    public async Task GcraQueueAcquireCancelledWhileRedisHoldsTheCall_TheReservationGrantedAfterwardsIsRefunded()
    {
        // One per hour, a burst of one: the first acquisition takes the burst, the held one would wait an hour.
        var settings = new Dictionary<string, string?>()
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, TimeSpan.FromHours(1), ("Burst", "1"), ("MaxQueueDelay", "01:30:00"));
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:10";
        await using var fleet = await RateLimitTestApp.StartAsync(Server.Configuration, settings, (_, _) => { });
        var limiter = fleet[0].Services.GetRequiredService<IRedisRateLimiterFactory>().Create("queue", "k");
        Assert.True((await limiter.AcquireAsync()).IsAcquired);
        var db = Admin.GetDatabase();
        var key = AdminServer.Keys(pattern: fleet.KeyPrefix + ":rl:*").Single();
        var afterFirst = (double)await db.StringGetAsync(key);
        var scriptsBefore = await ScriptCallsAsync();

        await CancelWhileRedisHoldsTheCallAsync(limiter);

        // Once unpaused Redis reserves the held call's slot an hour out, and its answer brings the refund: two scripts.
        var ran = false;
        for (var attempt = 0; attempt < 150 && !ran; attempt++)
        {
            ran = await ScriptCallsAsync() >= scriptsBefore + 2;
            if (!ran)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(ran, "The reservation of the cancelled acquisition was never refunded.");
        Assert.InRange((double)await db.StringGetAsync(key) - afterFirst, -1, 1);
        Assert.Equal(1, limiter.GetStatistics()!.TotalSuccessfulLeases);
    }

    /// <summary>
    /// With Redis paused, starts an acquisition (its script is queued on the connection before AcquireAsync returns the
    /// pending task), cancels it, and checks the caller stops waiting at once while Redis still holds the call; then
    /// unpauses, so Redis answers the held call.
    /// </summary>
    private async Task CancelWhileRedisHoldsTheCallAsync(RateLimiter limiter)
    {
        await PauseWritesAsync();
        try
        {
            using var giveUp = new CancellationTokenSource();
            var acquire = limiter.AcquireAsync(1, giveUp.Token).AsTask();
            Assert.False(acquire.IsCompleted);
            await giveUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquire.WaitAsync(TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await UnpauseAsync();
        }
    }

    private async Task<long> ScriptCallsAsync()
    {
        long calls = 0;
        foreach (var group in await AdminServer.InfoAsync("commandstats"))
        {
            foreach (var (name, value) in group)
            {
                if (name is "cmdstat_eval" or "cmdstat_evalsha")
                {
                    calls += long.Parse(value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return calls;
    }

    private static async Task<bool> UntilGrantedAsync(RateLimiter limiter)
    {
        for (var attempt = 0; attempt < 150; attempt++)
        {
            var lease = await limiter.AcquireAsync();
            if (lease.IsAcquired)
            {
                lease.Dispose();
                await ((RedisConcurrencyLease)lease).Released;
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }
}
