using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>The policies of one options snapshot, and each endpoint's effective policy (computed once, by the provider).</summary>
internal sealed class IdempotencyPolicySet : RedisEdgePolicySet<IdempotencyPolicy>
{
    public IdempotencyPolicySet(RedisIdempotencyOptions options, long generation = 0)
        : base(generation)
    {
        Default = IdempotencyPolicy.FromOptions(options);
        Policies = new Dictionary<string, IdempotencyPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policy) in options.Policies)
        {
            Policies[name] = Default.With(name, policy ?? new RedisIdempotencyPolicyOptions());
        }

        KeyHeaders = [.. Policies.Values.Select(p => p.HeaderName).Append(Default.HeaderName).Distinct(StringComparer.OrdinalIgnoreCase)];
        var replay = new HashSet<string>(RedisIdempotencyDefaults.ReplayedHeaders, StringComparer.OrdinalIgnoreCase);
        replay.UnionWith(options.AllowedReplayHeaders.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim()));
        ReplayHeaders = replay;
        var fingerprint = options.FingerprintHeaders?.Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim()).ToList();
        FingerprintHeaders = fingerprint is { Count: > 0 }
            ? [.. fingerprint.Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase)]
            : [.. RedisIdempotencyDefaults.FingerprintHeaders];
    }

    public IdempotencyPolicy Default { get; }

    public Dictionary<string, IdempotencyPolicy> Policies { get; }

    public override bool Defines(string name) => Policies.ContainsKey(name);

    /// <summary>The request headers options name as the key (feature-wide and per policy).</summary>
    public string[] KeyHeaders { get; }

    /// <summary>Response headers a replay carries (<see cref="RedisIdempotencyDefaults.ReplayedHeaders"/> plus <c>AllowedReplayHeaders</c>).</summary>
    public HashSet<string> ReplayHeaders { get; }

    /// <summary>Request headers in the fingerprint, sorted so their order never changes it.</summary>
    public string[] FingerprintHeaders { get; }
}
