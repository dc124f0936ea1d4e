using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>An immutable snapshot of the configured policies; replaced as a whole when configuration reloads.</summary>
internal sealed class RateLimitPolicySet : RedisEdgePolicySet<(RateLimitPolicy Policy, int Cost)[]>
{
    public RateLimitPolicySet(RedisRateLimitingOptions options, long generation = 0)
        : base(generation)
    {
        var policies = new Dictionary<string, RateLimitPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policy) in options.Policies)
        {
            policies[name] = new RateLimitPolicy(name, policy, options.Failure.Mode, options.SingleHashSlot);
        }

        Policies = policies;
        Global = options.GlobalPolicy is { Length: > 0 } global && policies.TryGetValue(global, out var g) ? g : null;
        EmitHeaders = options.EmitRateLimitHeaders;
        RetryAfterJitter = options.RetryAfterJitter;
        LocalDenyCache = options.LocalDenyCache;
        LocalDenyCacheSize = options.LocalDenyCacheSize;
        InstanceCount = options.InstanceCount;
        SingleHashSlot = options.SingleHashSlot;
        CoalesceHotPartitions = options.CoalesceHotPartitions;
        OnRejected = options.OnRejected;
        WithoutEndpoint = Global is null ? [] : [(Global, 1)];
    }

    public IReadOnlyDictionary<string, RateLimitPolicy> Policies { get; }

    public override bool Defines(string name) => Policies.ContainsKey(name);

    public RateLimitPolicy? Global { get; }

    public bool EmitHeaders { get; }

    public TimeSpan RetryAfterJitter { get; }

    public bool LocalDenyCache { get; }

    public int LocalDenyCacheSize { get; }

    /// <summary>The instances sharing the limits: a LocalFallback policy's share per instance is its limit divided by it.</summary>
    public int InstanceCount { get; }

    /// <summary>
    /// On Redis Cluster, the policies a request spanning hash slots may reserve and then refund, whose rejections the
    /// local deny cache does not remember; computed on first need from the endpoints (see the middleware).
    /// </summary>
    public HashSet<RateLimitPolicy>? ReservedAcrossSlots { get; set; }

    public bool SingleHashSlot { get; }

    public bool CoalesceHotPartitions { get; }

    public Func<RedisRateLimitRejectedContext, CancellationToken, ValueTask>? OnRejected { get; }

    /// <summary>What a request that matched no endpoint requests: the global policy at cost 1, or nothing.</summary>
    public (RateLimitPolicy Policy, int Cost)[] WithoutEndpoint { get; }
}
