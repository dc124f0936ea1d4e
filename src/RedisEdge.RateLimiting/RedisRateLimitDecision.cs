namespace RedisEdge.RateLimiting;

/// <summary>What one policy decided for one request.</summary>
public sealed class RedisRateLimitDecision
{
    internal RedisRateLimitDecision(string policyName, RedisRateLimitResult result, long limit, long remaining, TimeSpan reset, TimeSpan? retryAfter)
    {
        PolicyName = policyName;
        Result = result;
        Limit = limit;
        Remaining = remaining;
        Reset = reset;
        RetryAfter = retryAfter;
    }

    /// <summary>The policy name.</summary>
    public string PolicyName { get; }

    /// <summary>What the policy decided.</summary>
    public RedisRateLimitResult Result { get; }

    /// <summary>The limit that applied (after per-partition overrides).</summary>
    public long Limit { get; }

    /// <summary>Permits left in the partition.</summary>
    public long Remaining { get; }

    /// <summary>
    /// The <c>RateLimit</c> field's <c>t</c>: the time during which no more than <see cref="Remaining"/> may be used (until
    /// one more permit becomes available); for a policy that rejected, the time until the same request could succeed.
    /// Zero for concurrency.
    /// </summary>
    public TimeSpan Reset { get; }

    /// <summary>When the policy rejected: how long until the same request would be accepted; <see langword="null"/> when it
    /// never would (its cost exceeds the limit) or the policy did not reject.</summary>
    public TimeSpan? RetryAfter { get; }
}
