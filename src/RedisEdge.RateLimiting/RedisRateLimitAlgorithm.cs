namespace RedisEdge.RateLimiting;

/// <summary>The algorithm a rate-limit policy enforces. Every algorithm runs in Redis on the Redis server clock.</summary>
public enum RedisRateLimitAlgorithm
{
    /// <summary><see cref="RedisRateLimitPolicyOptions.PermitLimit"/> permits per <see cref="RedisRateLimitPolicyOptions.Window"/>, windows aligned on the epoch.</summary>
    FixedWindow,

    /// <summary>A log of every accepted permit in the last <see cref="RedisRateLimitPolicyOptions.Window"/> (a sorted set of at most <see cref="RedisRateLimitPolicyOptions.PermitLimit"/> members). Exact.</summary>
    SlidingWindowLog,

    /// <summary>The current and previous fixed windows blended by the elapsed fraction: constant memory, approximate.</summary>
    SlidingWindowCounter,

    /// <summary>A bucket of <see cref="RedisRateLimitPolicyOptions.PermitLimit"/> tokens refilled continuously with <see cref="RedisRateLimitPolicyOptions.TokensPerPeriod"/> per <see cref="RedisRateLimitPolicyOptions.Window"/>.</summary>
    TokenBucket,

    /// <summary>Generic cell rate algorithm (leaky bucket): a meter, or a queue when <see cref="RedisRateLimitPolicyOptions.MaxQueueDelay"/> is positive.</summary>
    Gcra,

    /// <summary>At most <see cref="RedisRateLimitPolicyOptions.PermitLimit"/> requests in flight across the fleet, held by expiring leases.</summary>
    Concurrency,
}
