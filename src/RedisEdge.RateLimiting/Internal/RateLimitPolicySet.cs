using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>An immutable snapshot of the configured policies; replaced as a whole when configuration reloads.</summary>
internal sealed class RateLimitPolicySet
{
    private readonly ConcurrentDictionary<(string? Endpoint, string Policy), bool> _unknownReported = new();

    // Endpoint metadata never changes, so what an endpoint requests under this set is resolved once; a weak table lets
    // endpoints that a dynamic data source replaces be collected with their entries.
    private readonly ConditionalWeakTable<Endpoint, (RateLimitPolicy Policy, int Cost)[]> _requested = new();

    public RateLimitPolicySet(RedisRateLimitingOptions options, long generation = 0)
    {
        Generation = generation;
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

    /// <summary>Which reload produced this set; local deny-cache entries made under another generation are ignored.</summary>
    public long Generation { get; }

    public IReadOnlyDictionary<string, RateLimitPolicy> Policies { get; }

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

    /// <summary>The policies <paramref name="endpoint"/> requests, with their costs, when already resolved under this set.</summary>
    public bool TryGetRequested(Endpoint endpoint, out (RateLimitPolicy Policy, int Cost)[] requested) =>
        _requested.TryGetValue(endpoint, out requested!);

    /// <summary>Remembers what <paramref name="endpoint"/> requests (a race resolves it twice, to the same result).</summary>
    public void SetRequested(Endpoint endpoint, (RateLimitPolicy Policy, int Cost)[] requested) =>
        _requested.AddOrUpdate(endpoint, requested);

    /// <summary>Whether an endpoint's reference to an undefined policy is new (log it) or already reported under this set.</summary>
    public bool FirstReportOfUnknown(string? endpoint, string policy) => _unknownReported.TryAdd((endpoint, policy), true);
}
