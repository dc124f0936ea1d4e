namespace RedisEdge.RateLimiting;

/// <summary>What a policy counts separately: each distinct value gets its own limit.</summary>
public enum RedisRateLimitPartitionKind
{
    /// <summary>
    /// The client IP, <c>HttpContext.Connection.RemoteIpAddress</c>: the IPv4 address, or the IPv6 /64 network (see
    /// <see cref="RedisRateLimitPolicyOptions.IPv6PrefixLength"/>). Behind a proxy or load balancer this is the proxy's
    /// address unless the app runs <c>UseForwardedHeaders</c> configured for that proxy (<c>ForwardedHeaders.XForwardedFor</c>
    /// and the proxy in <c>KnownProxies</c>/<c>KnownIPNetworks</c>); without it every client shares one partition.
    /// </summary>
    Ip,

    /// <summary>
    /// The authenticated user name (or name-identifier claim). Anonymous requests are counted per client IP (as
    /// <see cref="Ip"/> would, with the policy's prefix lengths), so one anonymous client cannot exhaust the limit of all.
    /// </summary>
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
