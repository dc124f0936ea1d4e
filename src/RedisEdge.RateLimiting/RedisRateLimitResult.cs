namespace RedisEdge.RateLimiting;

/// <summary>The outcome of one policy for one request.</summary>
public enum RedisRateLimitResult
{
    /// <summary>Accepted.</summary>
    Allowed,

    /// <summary>Rejected in Redis.</summary>
    Rejected,

    /// <summary>Would have been rejected, but the policy is in shadow mode.</summary>
    ShadowRejected,

    /// <summary>Rejected by this instance's local deny cache, without a Redis call.</summary>
    LocalDeny,

    /// <summary>The partition is on the policy's deny list.</summary>
    Denied,

    /// <summary>Redis could not answer; the failure mode decided.</summary>
    RedisError,

    /// <summary>Redis could not answer; the policy's <see cref="RedisFailureMode.LocalFallback"/> accepted the request in memory.</summary>
    FallbackAllowed,

    /// <summary>Redis could not answer; the policy's <see cref="RedisFailureMode.LocalFallback"/> rejected the request in memory.</summary>
    FallbackRejected,
}
