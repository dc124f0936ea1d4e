namespace RedisEdge.RateLimiting;

/// <summary>A different limit for one partition value of a policy.</summary>
public sealed class RedisRateLimitOverride
{
    /// <summary>The partition value this override applies to (exact, case-sensitive).</summary>
    public string Partition { get; set; } = string.Empty;

    /// <summary>Replaces the policy's <see cref="RedisRateLimitPolicyOptions.PermitLimit"/> for this partition.</summary>
    public int PermitLimit { get; set; }

    /// <summary>Replaces the policy's <see cref="RedisRateLimitPolicyOptions.TokensPerPeriod"/> (token bucket); 0 = keep.</summary>
    public int TokensPerPeriod { get; set; }

    /// <summary>Replaces the policy's <see cref="RedisRateLimitPolicyOptions.Burst"/> (GCRA); 0 = keep.</summary>
    public int Burst { get; set; }
}
