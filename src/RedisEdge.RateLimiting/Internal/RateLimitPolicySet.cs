using System.Collections.Concurrent;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>An immutable snapshot of the configured policies; replaced as a whole when configuration reloads.</summary>
internal sealed class RateLimitPolicySet
{
    private readonly ConcurrentDictionary<(string? Endpoint, string Policy), bool> _unknownReported = new();

    public RateLimitPolicySet(RedisRateLimitingOptions options, long generation = 0)
    {
        Generation = generation;
        var policies = new Dictionary<string, RateLimitPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policy) in options.Policies)
        {
            policies[name] = new RateLimitPolicy(name, policy, options.Failure.Mode);
        }

        Policies = policies;
        Global = options.GlobalPolicy is { Length: > 0 } global && policies.TryGetValue(global, out var g) ? g : null;
        EmitHeaders = options.EmitRateLimitHeaders;
        RetryAfterJitter = options.RetryAfterJitter;
        LocalDenyCache = options.LocalDenyCache;
        SingleHashSlot = options.SingleHashSlot;
        CoalesceHotPartitions = options.CoalesceHotPartitions;
        OnRejected = options.OnRejected;
    }

    /// <summary>Which reload produced this set; local deny-cache entries made under another generation are ignored.</summary>
    public long Generation { get; }

    public IReadOnlyDictionary<string, RateLimitPolicy> Policies { get; }

    public RateLimitPolicy? Global { get; }

    public bool EmitHeaders { get; }

    public TimeSpan RetryAfterJitter { get; }

    public bool LocalDenyCache { get; }

    public bool SingleHashSlot { get; }

    public bool CoalesceHotPartitions { get; }

    public Func<RedisRateLimitRejectedContext, CancellationToken, ValueTask>? OnRejected { get; }

    /// <summary>Whether an endpoint's reference to an undefined policy is new (log it) or already reported under this set.</summary>
    public bool FirstReportOfUnknown(string? endpoint, string policy) => _unknownReported.TryAdd((endpoint, policy), true);
}
