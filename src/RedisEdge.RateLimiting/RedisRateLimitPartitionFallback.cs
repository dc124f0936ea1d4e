namespace RedisEdge.RateLimiting;

/// <summary>
/// What a request counts against when a <see cref="RedisRateLimitPartitionKind.Claim"/>,
/// <see cref="RedisRateLimitPartitionKind.Header"/>, named <see cref="RedisRateLimitPartitionKind.Route"/> or
/// <see cref="RedisRateLimitPartitionKind.Custom"/> policy finds no partition value in it (no API key header, say).
/// </summary>
public enum RedisRateLimitPartitionFallback
{
    /// <summary>
    /// The client IP, as an <see cref="RedisRateLimitPartitionKind.Ip"/> policy would count it (with the policy's prefix
    /// lengths): one client without a value cannot exhaust the limit of every other client without one. The default.
    /// </summary>
    ClientIp,

    /// <summary>One partition per policy shared by every request without a value (a deliberate common bucket).</summary>
    Shared,
}
