namespace RedisEdge.RateLimiting;

/// <summary>Whether a policy rejects requests or only reports what it would have done.</summary>
public enum RedisRateLimitMode
{
    /// <summary>Requests over the limit are rejected.</summary>
    Enforce,

    /// <summary>Requests are counted and reported (metrics, headers) but never rejected by this policy.</summary>
    Shadow,
}
