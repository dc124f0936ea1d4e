namespace RedisEdge.RateLimiting;

/// <summary>
/// Options of RedisEdge rate limiting, bound from <c>RedisEdge:RateLimiting</c> and reloaded when it changes.
/// </summary>
public sealed class RedisRateLimitingOptions
{
    /// <summary>The named policies (<c>RedisEdge:RateLimiting:Policies:&lt;name&gt;</c>). Names are case-insensitive,
    /// 1-64 characters of <c>[A-Za-z0-9_.-]</c>.</summary>
    public Dictionary<string, RedisRateLimitPolicyOptions> Policies { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A policy applied to every endpoint (except those with <see cref="DisableRateLimitAttribute"/> or the first-party
    /// <c>[DisableRateLimiting]</c>) at cost 1, unless the endpoint declares it with another cost; <see langword="null"/> = none.</summary>
    public string? GlobalPolicy { get; set; }

    /// <summary>Whether responses carry the IETF <c>RateLimit-Policy</c> and <c>RateLimit</c> fields. Default <see langword="true"/>.</summary>
    public bool EmitRateLimitHeaders { get; set; } = true;

    /// <summary>Up to this much random time is added to <c>Retry-After</c>, so rejected clients do not all return at once. Default zero.</summary>
    public TimeSpan RetryAfterJitter { get; set; }

    /// <summary>Whether an instance remembers a rejected partition until its retry time and rejects it again without
    /// calling Redis. Default <see langword="true"/>.</summary>
    public bool LocalDenyCache { get; set; } = true;

    /// <summary>Upper bound on the entries of the local deny cache. Default 100 000.</summary>
    public int LocalDenyCacheSize { get; set; } = 100_000;

    /// <summary>
    /// Hot-partition coalescing. While a script call for one partition is in flight, this instance's later requests to
    /// the same policies and partitions (same costs) queue locally, and the next call decides them all: the longest
    /// prefix that fits is admitted, in arrival order. Limits stay exact fleet-wide; an idle partition's request is sent
    /// at once, a queued one waits for at most the call in flight plus its own. Concurrency policies, GCRA queues and
    /// policies spanning cluster slots are never coalesced. Default <see langword="true"/>.
    /// </summary>
    public bool CoalesceHotPartitions { get; set; } = true;

    /// <summary>
    /// Puts every rate-limit key in one Redis Cluster hash slot. Needed on Redis Cluster only when one endpoint combines
    /// policies with different partitions (IP and API key, say); it costs the spreading of keys over shards.
    /// </summary>
    public bool SingleHashSlot { get; set; }

    /// <summary>
    /// How many instances share the limits. Used by <see cref="RedisFailureMode.LocalFallback"/> only: while Redis cannot
    /// answer, each instance enforces a policy in memory at <c>PermitLimit / InstanceCount</c> (at least 1). Default 1.
    /// </summary>
    public int InstanceCount { get; set; } = 1;

    /// <summary>Timeout, circuit breaker and failure mode. Rate limiting defaults to <see cref="RedisFailureMode.FailOpen"/>.</summary>
    public RedisFailurePolicyOptions Failure { get; set; } = new() { Mode = RedisFailureMode.FailOpen };

    /// <summary>Called when a request is rejected, after the status code and headers are set; write the response here
    /// to replace the default problem+json body.</summary>
    public Func<RedisRateLimitRejectedContext, CancellationToken, ValueTask>? OnRejected { get; set; }

    /// <summary>Adds or replaces the policy <paramref name="name"/>.</summary>
    public RedisRateLimitingOptions AddPolicy(string name, Action<RedisRateLimitPolicyOptions> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        if (!Policies.TryGetValue(name, out var policy))
        {
            policy = new RedisRateLimitPolicyOptions();
            Policies[name] = policy;
        }

        configure(policy);
        return this;
    }
}
