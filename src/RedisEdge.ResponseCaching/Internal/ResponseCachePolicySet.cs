namespace RedisEdge.ResponseCaching.Internal;

/// <summary>An immutable snapshot of the configured policies; replaced as a whole when configuration reloads.</summary>
internal sealed class ResponseCachePolicySet
{
    public ResponseCachePolicySet(RedisResponseCachingOptions options)
    {
        var policies = new Dictionary<string, ResponseCachePolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policy) in options.Policies)
        {
            policies[name] = new ResponseCachePolicy(name, policy);
        }

        Policies = policies;
        FillLeaseMs = (long)options.FillLeaseTimeout.TotalMilliseconds;
        FillWaitTimeout = options.FillWaitTimeout;
        FailureMode = options.Failure.Mode;
    }

    public IReadOnlyDictionary<string, ResponseCachePolicy> Policies { get; }

    public long FillLeaseMs { get; }

    public TimeSpan FillWaitTimeout { get; }

    public RedisFailureMode FailureMode { get; }
}
