namespace RedisEdge.RateLimiting.Internal;

/// <summary>One policy applied to one request: its inputs, then what Redis (or the local cache) answered.</summary>
internal sealed class PolicyDecision(RateLimitPolicy policy, string? partitionValue, string tag, long limit, long p1, int cost)
{
    public RateLimitPolicy Policy { get; } = policy;

    public string? PartitionValue { get; } = partitionValue;

    /// <summary>The partition's tag (a hash): what identifies it in its key, the local deny cache and coalescing lanes.</summary>
    public string Tag { get; } = tag;

    public long Limit { get; } = limit;

    public long P1 { get; } = p1;

    public int Cost { get; } = cost;

    public RedisRateLimitResult Result { get; set; }

    /// <summary>When the middleware began deciding the policy (a <see cref="TimeProvider"/> timestamp), for the duration histogram.</summary>
    public long Started { get; init; }

    public long Remaining { get; set; }

    public long ResetMs { get; set; }

    /// <summary>Milliseconds until the same request would be accepted; -1 = never; 0 = not rejected.</summary>
    public long RetryMs { get; set; }

    public long DelayMs { get; set; }

    /// <summary>The Redis server time of the decision, in whole ms: the window a refund must find.</summary>
    public long DecidedAtMs { get; set; }

    public RedisRateLimitDecision ToPublic() => new(
        Policy.Name,
        Result,
        Limit,
        Math.Max(0, Remaining),
        TimeSpan.FromMilliseconds(ResetMs),
        RetryMs > 0 ? TimeSpan.FromMilliseconds(RetryMs) : null);
}
