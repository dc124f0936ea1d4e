using System.Threading.RateLimiting;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Acquisitions that hold what they take: a concurrency lease, kept until the <see cref="RateLimitLease"/> is disposed,
/// and a GCRA queue reservation, waited for in <c>AcquireAsync</c>. Each is named by a per-acquisition token, so
/// whatever an abandoned acquisition took in Redis is given back: the lease released, the reservation refunded.
/// </summary>
internal sealed partial class RedisRateLimiterFactory
{
    /// <summary>Whether a policy's permits are held under a token (as the middleware's <c>NeedsToken</c>): never coalesced.</summary>
    private static bool Holds(RateLimitPolicy policy) =>
        policy.Algorithm == RedisRateLimitAlgorithm.Concurrency ||
        (policy.Algorithm == RedisRateLimitAlgorithm.Gcra && policy.P2 > 0 && !policy.Shadow);

    private async ValueTask<RateLimitLease> AcquireHeldAsync(RateLimitPolicySet set, PolicyDecision d, LeaseStatistics statistics, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var token = Guid.NewGuid().ToString("N");
        List<PolicyDecision> decisions = [d];

        // The call is not given the caller's token: once sent, Redis may grant it whatever the caller does, and only
        // its answer says whether there is something to give back. The caller stops waiting; the answer is still read.
        var call = limiter.EvaluateAsync(decisions, token, coalesce: false, CancellationToken.None);
        bool allowed;
        try
        {
            allowed = await call.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _ = GiveBackWhenAnsweredAsync(call, decisions, token);
            throw;
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency && RedisRateLimitingMiddleware.WasSent(ex))
            {
                // Timed out or failed after sending: the script may still run (or have run) and take the lease.
                limiter.ReleaseInBackground(decisions, token);
            }

            var unavailable = OnRedisFailure(set, d, ex);
            statistics.Record(unavailable.IsAcquired);
            return unavailable;
        }

        Answered(d, allowed, statistics);
        if (!allowed)
        {
            return Refused(set, d);
        }

        if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // Granted, but the caller gave up as the answer came: nobody will dispose a lease, so release it now.
                limiter.ReleaseInBackground(decisions, token);
                cancellationToken.ThrowIfCancellationRequested();
            }

            // A shadow policy that would have refused took nothing: there is nothing to hold.
            return d.Result == RedisRateLimitResult.Allowed
                ? new RedisConcurrencyLease(limiter, decisions, token)
                : RedisPolicyLease.Acquired;
        }

        await WaitForSlotAsync(d, decisions, token, statistics, cancellationToken).ConfigureAwait(false);
        return RedisPolicyLease.Acquired;
    }

    /// <summary>
    /// Waits the delay the GCRA queue script computed on the Redis clock (the slot it reserved). A caller that gives
    /// up meanwhile used nothing, so the reservation is refunded (awaited) before the cancellation surfaces, and the
    /// requests behind it move up a slot.
    /// </summary>
    private async Task WaitForSlotAsync(PolicyDecision d, List<PolicyDecision> decisions, string token, LeaseStatistics statistics, CancellationToken cancellationToken)
    {
        metrics.RecordQueueDelay(d.Policy.Name, TimeSpan.FromMilliseconds(d.DelayMs));
        statistics.Enqueue();
        try
        {
            if (d.DelayMs > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(d.DelayMs), timeProvider, cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await limiter.RefundAbandonedAsync(decisions, token).ConfigureAwait(false);
            throw;
        }
        finally
        {
            statistics.Dequeue();
        }
    }

    /// <summary>
    /// The caller stopped waiting for a call already sent: once Redis answers, gives back what it granted (a lease is
    /// released; a queue reservation refunded). A concurrency call that failed after being sent may still take its
    /// lease, so that lease is released too (releasing one never taken removes nothing). A GCRA queue call that failed
    /// so is not refunded: whether it committed is unknown, and a refund of nothing would over-admit.
    /// </summary>
    private async Task GiveBackWhenAnsweredAsync(Task<bool> call, List<PolicyDecision> decisions, string token)
    {
        var concurrency = decisions[0].Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency;
        bool allowed;
        try
        {
            allowed = await call.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (concurrency && RedisRateLimitingMiddleware.WasSent(ex))
            {
                await limiter.ReleaseAsync(decisions, token).ConfigureAwait(false);
            }

            return;
        }

        if (!allowed)
        {
            return;
        }

        await (concurrency ? limiter.ReleaseAsync(decisions, token) : limiter.RefundAbandonedAsync(decisions, token)).ConfigureAwait(false);
    }
}
