namespace RedisEdge.RateLimiting;

/// <summary>What a policy counts separately: each distinct value gets its own limit.</summary>
public enum RedisRateLimitPartitionKind
{
    /// <summary>The client IP, <c>HttpContext.Connection.RemoteIpAddress</c> (rewritten by the forwarded-headers middleware when the app enables it).</summary>
    Ip,

    /// <summary>The authenticated user name (or name-identifier claim).</summary>
    User,

    /// <summary>The value of the claim named by <see cref="RedisRateLimitPolicyOptions.PartitionName"/>.</summary>
    Claim,

    /// <summary>The value of the request header named by <see cref="RedisRateLimitPolicyOptions.PartitionName"/> (an API key, for instance).</summary>
    Header,

    /// <summary>The route value named by <see cref="RedisRateLimitPolicyOptions.PartitionName"/>, or the endpoint's route pattern when no name is given.</summary>
    Route,

    /// <summary>One partition for every request: a limit for the whole API.</summary>
    Global,

    /// <summary>The value returned by <see cref="RedisRateLimitPolicyOptions.PartitionResolver"/> (code only).</summary>
    Custom,
}
