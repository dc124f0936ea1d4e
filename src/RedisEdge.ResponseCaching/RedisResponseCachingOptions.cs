namespace RedisEdge.ResponseCaching;

/// <summary>
/// Options of RedisEdge response caching, bound from <c>RedisEdge:ResponseCaching</c>; policies are reloaded when it
/// changes.
/// </summary>
public sealed class RedisResponseCachingOptions
{
    /// <summary>The named policies (<c>RedisEdge:ResponseCaching:Policies:&lt;name&gt;</c>). Names are case-insensitive,
    /// 1-64 characters of <c>[A-Za-z0-9_.-]</c>.</summary>
    public Dictionary<string, RedisResponseCachePolicyOptions> Policies { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// How long a fill lease lasts without renewal: the request that runs the origin on a miss holds it and renews it
    /// every third of this time while the origin runs; if its instance dies, the lease lapses within this time and one
    /// waiting request takes over. Keep it below <see cref="FillWaitTimeout"/>, so waiters take over a dead filler's
    /// lease before they give up waiting. Default 3 s.
    /// </summary>
    public TimeSpan FillLeaseTimeout { get; set; } = RedisResponseCachingDefaults.FillLeaseTimeout;

    /// <summary>
    /// The longest a request waits for another request's fill before it runs the origin itself (without storing).
    /// Zero = never wait. Default 5 s.
    /// </summary>
    public TimeSpan FillWaitTimeout { get; set; } = RedisResponseCachingDefaults.FillWaitTimeout;

    /// <summary>The near cache (off by default).</summary>
    public RedisResponseNearCacheOptions NearCache { get; set; } = new();

    /// <summary>Timeout, circuit breaker and failure mode. Response caching defaults to <see cref="RedisFailureMode.FailOpen"/>:
    /// while Redis cannot answer, requests run the origin and nothing is cached.</summary>
    public RedisFailurePolicyOptions Failure { get; set; } = new() { Mode = RedisFailureMode.FailOpen };

    /// <summary>Adds or replaces the policy <paramref name="name"/>.</summary>
    public RedisResponseCachingOptions AddPolicy(string name, Action<RedisResponseCachePolicyOptions> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        if (!Policies.TryGetValue(name, out var policy))
        {
            policy = new RedisResponseCachePolicyOptions();
            Policies[name] = policy;
        }

        configure(policy);
        return this;
    }
}
