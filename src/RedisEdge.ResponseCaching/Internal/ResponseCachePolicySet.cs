using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>An immutable snapshot of the configured policies; replaced as a whole when configuration reloads.</summary>
internal sealed class ResponseCachePolicySet : RedisEdgePolicySet<ResponseCachePolicy>
{
    public ResponseCachePolicySet(RedisResponseCachingOptions options, long generation = 0)
        : base(generation)
    {
        var policies = new Dictionary<string, ResponseCachePolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policy) in options.Policies)
        {
            policies[name] = new ResponseCachePolicy(name, policy);
        }

        Policies = policies;
        FillLeaseMs = (long)options.FillLeaseTimeout.TotalMilliseconds;
        FillWaitTimeout = options.FillWaitTimeout;
    }

    public IReadOnlyDictionary<string, ResponseCachePolicy> Policies { get; }

    public override bool Defines(string name) => Policies.ContainsKey(name);

    public long FillLeaseMs { get; }

    public TimeSpan FillWaitTimeout { get; }
}
