using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Decides <see cref="RateLimiter"/> acquisitions the way the middleware decides a request of one policy: local deny
/// cache, then one <c>rate_limit.lua</c> call (shared when coalesced), and the policy's failure mode when Redis cannot
/// answer. Concurrency and GCRA queue policies hold what they take (see <c>.Held.cs</c>). The policy is looked up on
/// every acquisition, so a configuration reload applies to existing limiters.
/// </summary>
internal sealed partial class RedisRateLimiterFactory(
    RateLimitPolicyProvider policies,
    RedisRateLimiter limiter,
    LocalDenyCache denyCache,
    LocalFallbackLimiter fallback,
    RateLimitingMetrics metrics,
    RedisEdgeFailureResponder<RedisRateLimitingOptions> failure,
    LocalDenyRule denyRule,
    TimeProvider timeProvider)
    : IRedisRateLimiterFactory
{
    internal const string NotDecidedSynchronously =
        "A RedisEdge limiter decides in Redis: AttemptAcquire only refuses what the local deny cache knows is refused; use AcquireAsync.";

    internal const string RedisUnavailableOpen = "Redis could not answer; the policy fails open, so the permits were granted uncounted.";
    internal const string RedisUnavailableClosed = "Redis could not answer; the policy fails closed.";

    public RateLimiter Create(string policyName, string partitionKey)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        Check(policyName);
        return new RedisPolicyRateLimiter(this, policyName, partitionKey);
    }

    public PartitionedRateLimiter<TResource> CreatePartitioned<TResource>(string policyName, Func<TResource, string> partitionKey)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        Check(policyName);
        return new RedisPolicyPartitionedRateLimiter<TResource>(this, policyName, partitionKey);
    }

    private void Check(string policyName)
    {
        ArgumentException.ThrowIfNullOrEmpty(policyName);
        _ = Policy(policies.Current, policyName);
    }

    private static RateLimitPolicy Policy(RateLimitPolicySet set, string name)
    {
        return set.Policies.TryGetValue(name, out var policy)
            ? policy
            : throw new InvalidOperationException(
                $"No RedisEdge rate-limit policy named '{name}' is configured (RedisEdge:RateLimiting:Policies:{name}, or AddPolicy in AddRateLimiting).");
    }

    private static PolicyDecision Decision(RateLimitPolicySet set, string name, LimiterPartition partition, int permits, long started)
    {
        var policy = Policy(set, name);
        if (permits > policy.Limit)
        {
            throw new ArgumentOutOfRangeException(nameof(permits), permits, $"{permits} permits exceed the PermitLimit ({policy.Limit}) of the policy '{name}'.");
        }

        string? value;
        string tag;
        if (partition.IdentityKind is { } kind)
        {
            // Resolved from a request by the middleware's resolver: the same value and identity, so the same counter.
            value = partition.Value;
            tag = PartitionResolver.Tag(policy, kind, partition.Identity);
        }
        else
        {
            // A Global policy has one partition, whatever the key: the one the middleware counts in.
            value = policy.Partition == RedisRateLimitPartitionKind.Global ? string.Empty : partition.Value;
            tag = PartitionResolver.Tag(policy, policy.Partition, value);
        }

        var (limit, p1) = policy.For(value);
        return new PolicyDecision(policy, value, tag, limit, p1, permits) { Started = started };
    }

    /// <summary>The synchronous answer: refused when the deny cache remembers the partition refused, otherwise refused as undecided.</summary>
    public RateLimitLease AttemptAcquire(string name, LimiterPartition partition, int permits, LeaseStatistics statistics)
    {
        var set = policies.Current;
        var d = Decision(set, name, partition, Math.Max(1, permits), metrics.Requests.Start());
        if (TryLocalDeny(set, d, out var lease))
        {
            statistics.Record(acquired: false, remaining: 0);
            return lease;
        }

        return new RedisPolicyLease(acquired: false, retryAfter: null, NotDecidedSynchronously);
    }

    /// <remarks>
    /// Not async itself: what is decided without Redis completes synchronously, and the call is awaited in
    /// <see cref="EvaluateAsync"/>, whose state machine holds only what it needs.
    /// </remarks>
    public ValueTask<RateLimitLease> AcquireAsync(string name, LimiterPartition partition, int permits, LeaseStatistics statistics, CancellationToken cancellationToken)
    {
        var set = policies.Current;
        var d = Decision(set, name, partition, Math.Max(1, permits), metrics.Requests.Start());
        if (TryLocalDeny(set, d, out var denied))
        {
            statistics.Record(acquired: false, remaining: 0);
            return ValueTask.FromResult<RateLimitLease>(denied);
        }

        if (permits == 0)
        {
            // Zero permits asks whether the partition is known to be refused, without consuming (or calling Redis).
            return ValueTask.FromResult<RateLimitLease>(RedisPolicyLease.Acquired);
        }

        return Holds(d.Policy) ? AcquireHeldAsync(set, d, statistics, cancellationToken) : EvaluateAsync(set, d, statistics, cancellationToken);
    }

    private async ValueTask<RateLimitLease> EvaluateAsync(RateLimitPolicySet set, PolicyDecision d, LeaseStatistics statistics, CancellationToken cancellationToken)
    {
        bool allowed;
        try
        {
            allowed = await limiter.EvaluateAsync([d], leaseId: null, set.CoalesceHotPartitions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException && !cancellationToken.IsCancellationRequested)
        {
            var unavailable = OnRedisFailure(set, d, ex);
            statistics.Record(unavailable.IsAcquired);
            return unavailable;
        }

        Answered(d, allowed, statistics);
        return allowed ? RedisPolicyLease.Acquired : Refused(set, d);
    }

    /// <summary>Redis answered: whatever an outage left in memory decides nothing more; the answer is counted.</summary>
    private void Answered(PolicyDecision d, bool allowed, LeaseStatistics statistics)
    {
        fallback.Reset();
        metrics.Record(d, d.Result);
        statistics.Record(allowed, d.Remaining, d.DecidedAtMs);
    }

    /// <summary>Redis refused: remembered locally where the deny-cache rule allows it (the middleware's rule).</summary>
    private RedisPolicyLease Refused(RateLimitPolicySet set, PolicyDecision d)
    {
        if (denyRule.MayRemember(set, d))
        {
            denyCache.Add(d.Policy.Name, d.Tag, d.Cost, set.Generation, d.Started, TimeSpan.FromMilliseconds(d.RetryMs), set.LocalDenyCacheSize);
        }

        return new RedisPolicyLease(acquired: false, d.RetryMs >= 0 ? TimeSpan.FromMilliseconds(d.RetryMs) : null, d.Policy.ExceededDetail);
    }

    private bool TryLocalDeny(RateLimitPolicySet set, PolicyDecision d, [NotNullWhen(true)] out RedisPolicyLease? lease)
    {
        lease = null;
        if (!LocalDenyRule.MayAnswer(set, d.Policy) || !denyCache.TryGet(d.Policy.Name, d.Tag, d.Cost, set.Generation, out var left))
        {
            return false;
        }

        metrics.Record(d, RedisRateLimitResult.LocalDeny);
        lease = new RedisPolicyLease(acquired: false, TimeSpan.FromMilliseconds(Math.Ceiling(left.TotalMilliseconds)), d.Policy.ExceededDetail);
        return true;
    }

    /// <summary>Redis could not answer: the policy's failure mode decides, counted and logged as the middleware's are.</summary>
    private RateLimitLease OnRedisFailure(RateLimitPolicySet set, PolicyDecision d, Exception exception)
    {
        var mode = d.Policy.Shadow ? RedisFailureMode.FailOpen : d.Policy.FailureMode;
        failure.Record(d.Policy.Name, mode, exception);
        if (mode == RedisFailureMode.LocalFallback)
        {
            List<PolicyDecision> local = [d];
            var allowed = fallback.TryAcquire(local, set.InstanceCount);
            metrics.Record(d, d.Result);
            if (!allowed)
            {
                return new RedisPolicyLease(acquired: false, TimeSpan.FromMilliseconds(Math.Max(0, d.RetryMs)), d.Policy.ExceededDetail);
            }

            // A concurrency slot counted in this instance's memory is held, like a Redis lease, until the lease is disposed.
            return d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency
                ? new RedisConcurrencyLease(fallback, local)
                : RedisPolicyLease.Acquired;
        }

        metrics.Record(d, RedisRateLimitResult.RedisError);
        if (mode == RedisFailureMode.FailClosed)
        {
            var retry = exception is RedisEdgeUnavailableException u ? u.RetryAfter : TimeSpan.FromSeconds(1);
            return new RedisPolicyLease(acquired: false, retry, RedisUnavailableClosed);
        }

        return new RedisPolicyLease(acquired: true, retryAfter: null, RedisUnavailableOpen);
    }
}
