using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Core's policy provider filled in for rate limiting: an endpoint resolves to the policies it requests, with their
/// costs, read by <see cref="RateLimitDeclarations"/> from RedisEdge's <c>[RateLimit]</c> and the first-party
/// <c>[EnableRateLimiting]</c>/<c>[DisableRateLimiting]</c>. A reload clears the local deny cache, whose rejections
/// were computed with the old limits.
/// </summary>
internal sealed class RateLimitPolicyProvider(
    IOptionsMonitor<RedisRateLimitingOptions> monitor,
    LocalDenyCache denyCache,
    FirstPartyRateLimiting firstParty,
    IServiceProvider services,
    ILoggerFactory loggerFactory)
    : RedisEdgePolicyProvider<RedisRateLimitingOptions, RateLimitPolicySet, (RateLimitPolicy Policy, int Cost)[]>(
        monitor, static (options, generation) => new RateLimitPolicySet(options, generation), services, loggerFactory)
{
    public override string PolicyKind => "rate-limit policy";

    /// <summary>
    /// The RedisEdge policy names the endpoint declares; a first-party name <c>AddRateLimiter()</c> owns is not one, except
    /// a RedisEdge policy the first-party middleware applies (<c>AddRedisEdgePolicy</c>), which a reload may not drop either.
    /// </summary>
    public override IEnumerable<string> PolicyNames(Endpoint endpoint)
    {
        if (RateLimitDeclarations.IsDisabled(endpoint.Metadata))
        {
            return [];
        }

        var names = RateLimitDeclarations.Of(endpoint.Metadata, firstParty, Current.Policies.ContainsKey).Select(d => d.Policy);
        return RateLimitDeclarations.Enable(endpoint.Metadata).Attribute?.PolicyName is { } name && firstParty.AppliesRedisEdgePolicy(name)
            ? names.Append(name)
            : names;
    }

    /// <summary>
    /// The policies that apply and the cost of each. Declarations are ordered from least to most specific (global,
    /// group, controller, action, endpoint), so the last declaration of a policy sets its cost, as
    /// <c>GetMetadata&lt;T&gt;</c> would; a policy keeps the position of its first declaration, which orders the headers.
    /// </summary>
    protected override (RateLimitPolicy Policy, int Cost)[] Resolve(RateLimitPolicySet set, Endpoint endpoint)
    {
        // Either marker wins: ours, or the first-party limiter's, which apps migrating from it already carry.
        if (RateLimitDeclarations.IsDisabled(endpoint.Metadata))
        {
            return [];
        }

        var declared = RateLimitDeclarations.Of(endpoint.Metadata, firstParty, set.Policies.ContainsKey);
        if (declared.Count == 0)
        {
            return set.WithoutEndpoint;
        }

        var requested = new List<(RateLimitPolicy Policy, int Cost)>(declared.Count + 1);
        requested.AddRange(set.WithoutEndpoint);
        foreach (var (name, cost) in declared)
        {
            if (!set.Policies.TryGetValue(name, out var policy))
            {
                continue;
            }

            var index = requested.FindIndex(r => ReferenceEquals(r.Policy, policy));
            if (index >= 0)
            {
                requested[index] = (policy, cost);
            }
            else
            {
                requested.Add((policy, cost));
            }
        }

        return [.. requested];
    }

    // A remembered rejection was computed with the old limits; it may no longer hold. Requests still being evaluated
    // under the old set would add such entries after the clear: the set's generation makes them inert.
    protected override void OnReplaced(RateLimitPolicySet set) => denyCache.Clear();
}
