using Microsoft.AspNetCore.Http;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>A validated policy turned into what the middleware needs per request: script codes, limits in ms, lookups.</summary>
internal sealed class RateLimitPolicy
{
    public RateLimitPolicy(string name, RedisRateLimitPolicyOptions options, RedisFailureMode defaultFailureMode, bool singleHashSlot = false)
    {
        Name = name;
        SingleHashSlot = singleHashSlot;
        Algorithm = options.Algorithm;
        AlgorithmCode = (int)options.Algorithm + 1;
        KeySuffix = name + ":" + AlgorithmToken(options.Algorithm);
        Shadow = options.Mode == RedisRateLimitMode.Shadow;
        Limit = options.PermitLimit;
        PeriodMs = options.Algorithm == RedisRateLimitAlgorithm.Concurrency ? 0 : (long)Math.Ceiling(options.Window.TotalMilliseconds);
        P1 = options.Algorithm switch
        {
            RedisRateLimitAlgorithm.TokenBucket => options.TokensPerPeriod,
            RedisRateLimitAlgorithm.Gcra => options.Burst,
            RedisRateLimitAlgorithm.Concurrency => (long)Math.Ceiling(options.LeaseTimeToLive.TotalMilliseconds),
            _ => 0,
        };
        P2 = options.Algorithm == RedisRateLimitAlgorithm.Gcra ? (long)Math.Ceiling(options.MaxQueueDelay.TotalMilliseconds) : 0;
        Partition = options.Partition;
        FallBackToClientIp = options.PartitionFallback == RedisRateLimitPartitionFallback.ClientIp &&
            options.Partition is not (RedisRateLimitPartitionKind.Ip or RedisRateLimitPartitionKind.Global);
        PartitionName = options.PartitionName;
        Resolver = options.PartitionResolver;
        FailureMode = options.FailureMode ?? defaultFailureMode;
        IPv4PrefixLength = options.IPv4PrefixLength;
        IPv6PrefixLength = options.IPv6PrefixLength;
        Allow = new HashSet<string>(options.AllowList.Select(PartitionValue), StringComparer.Ordinal);
        Deny = new HashSet<string>(options.DenyList.Select(PartitionValue), StringComparer.Ordinal);
        Overrides = new Dictionary<string, RedisRateLimitOverride>(StringComparer.Ordinal);
        foreach (var item in options.Overrides)
        {
            Overrides[PartitionValue(item.Partition)] = item;
        }

        // What every request of this policy would otherwise format again.
        QuotedName = "\"" + name + "\"";
        PolicyHeaderMember = RateLimitHeaders.PolicyMember(this, Limit, P1);
        ExceededDetail = "Rate limit exceeded: '" + name + "'.";
        AbsentTag = PartitionResolver.AbsentTag(Partition, PartitionName);
    }

    public string Name { get; }

    public RedisRateLimitAlgorithm Algorithm { get; }

    public int AlgorithmCode { get; }

    public string KeySuffix { get; }

    /// <summary>
    /// Whether the keys of this policy's partitions share the one hash tag of every rate-limit key (the set's
    /// <c>SingleHashSlot</c>) instead of each carrying its partition's tag.
    /// </summary>
    public bool SingleHashSlot { get; }

    public bool Shadow { get; }

    public long Limit { get; }

    public long PeriodMs { get; }

    public long P1 { get; }

    public long P2 { get; }

    public RedisRateLimitPartitionKind Partition { get; }

    public string? PartitionName { get; }

    /// <summary>Whether a request without a partition value counts against its client IP (the default) rather than the shared "absent" partition.</summary>
    public bool FallBackToClientIp { get; }

    public int IPv4PrefixLength { get; }

    public int IPv6PrefixLength { get; }

    /// <summary>
    /// The IETF <c>w</c> of <c>q = limit</c>, in whole seconds (a sub-second window still reports 1): the window, or for
    /// a token bucket the time its capacity takes to refill (<c>limit / p1</c> windows), so <c>q/w</c> is its sustained rate.
    /// </summary>
    public long WindowSeconds(long limit, long p1)
    {
        var ms = Algorithm == RedisRateLimitAlgorithm.TokenBucket && p1 > 0 ? PeriodMs * ((double)limit / p1) : PeriodMs;
        return ms <= 0 ? 0 : Math.Max(1, (long)Math.Ceiling(ms / 1000.0));
    }

    public Func<HttpContext, string?>? Resolver { get; }

    public RedisFailureMode FailureMode { get; }

    public HashSet<string> Allow { get; }

    public HashSet<string> Deny { get; }

    public Dictionary<string, RedisRateLimitOverride> Overrides { get; }

    /// <summary>The name as a structured-field string (<c>"api"</c>); names never need escaping.</summary>
    public string QuotedName { get; }

    /// <summary>This policy's member of the <c>RateLimit-Policy</c> field for its configured (not overridden) limits.</summary>
    public string PolicyHeaderMember { get; }

    /// <summary>The 429 problem's detail when this policy alone refused the request.</summary>
    public string ExceededDetail { get; }

    /// <summary>The hash tag of the partition of requests that have no partition value.</summary>
    public string AbsentTag { get; }

    /// <summary>The hash tags of recently seen partitions.</summary>
    public PartitionTags Tags { get; } = new();

    /// <summary>The Redis keys of recently seen partitions (set by the rate limiter, which knows the key prefix).</summary>
    public PolicyKeys Keys { get; } = new();

    /// <summary>
    /// The script arguments of a request of this policy alone at its configured limits and cost 1, built on first use
    /// and then sent as they are (see <c>RedisRateLimiter.Arguments</c>).
    /// </summary>
    public StackExchange.Redis.RedisValue[]? DefaultArguments { get; set; }

    /// <summary>The limit and algorithm parameter for one partition value, after overrides.</summary>
    public (long Limit, long P1) For(string? partitionValue)
    {
        if (partitionValue is not null && Overrides.Count > 0 && Overrides.TryGetValue(partitionValue, out var o))
        {
            var p1 = Algorithm is RedisRateLimitAlgorithm.TokenBucket ? (o.TokensPerPeriod > 0 ? o.TokensPerPeriod : P1)
                : Algorithm is RedisRateLimitAlgorithm.Gcra ? (o.Burst > 0 ? o.Burst : P1)
                : P1;
            return (o.PermitLimit, p1);
        }

        return (Limit, P1);
    }

    /// <summary>A configured partition value as requests produce it: IP entries become their /prefix network (validated at start-up).</summary>
    private string PartitionValue(string entry) =>
        Partition == RedisRateLimitPartitionKind.Ip && IpPartition.TryNormalize(entry, IPv4PrefixLength, IPv6PrefixLength, out var value, out _) ? value : entry;

    internal static string AlgorithmToken(RedisRateLimitAlgorithm algorithm) => algorithm switch
    {
        RedisRateLimitAlgorithm.FixedWindow => "fw",
        RedisRateLimitAlgorithm.SlidingWindowLog => "swl",
        RedisRateLimitAlgorithm.SlidingWindowCounter => "swc",
        RedisRateLimitAlgorithm.TokenBucket => "tb",
        RedisRateLimitAlgorithm.Gcra => "gcra",
        RedisRateLimitAlgorithm.Concurrency => "conc",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };
}
