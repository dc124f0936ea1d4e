using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Core's policy provider filled in for rate limiting: an endpoint resolves to the policies it requests, with their
/// costs. A reload clears the local deny cache, whose rejections were computed with the old limits.
/// </summary>
internal sealed class RateLimitPolicyProvider(
    IOptionsMonitor<RedisRateLimitingOptions> monitor,
    LocalDenyCache denyCache,
    IServiceProvider services,
    ILoggerFactory loggerFactory)
    : RedisEdgePolicyProvider<RedisRateLimitingOptions, RateLimitPolicySet, (RateLimitPolicy Policy, int Cost)[]>(
        monitor, static (options, generation) => new RateLimitPolicySet(options, generation), services, loggerFactory)
{
    public override string PolicyKind => "rate-limit policy";

    public override IEnumerable<string> PolicyNames(Endpoint endpoint) =>
        Disabled(endpoint) ? [] : endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>().Select(a => a.PolicyName);

    /// <summary>
    /// The policies that apply and the cost of each. Metadata is ordered from least to most specific (global, group,
    /// controller, action, endpoint), so the last declaration of a policy sets its cost, as <c>GetMetadata&lt;T&gt;</c>
    /// would; a policy keeps the position of its first declaration, which orders the headers.
    /// </summary>
    protected override (RateLimitPolicy Policy, int Cost)[] Resolve(RateLimitPolicySet set, Endpoint endpoint)
    {
        if (Disabled(endpoint))
        {
            return [];
        }

        var attributes = endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>();
        if (attributes.Count == 0)
        {
            return set.WithoutEndpoint;
        }

        var requested = new List<(RateLimitPolicy Policy, int Cost)>(attributes.Count + 1);
        requested.AddRange(set.WithoutEndpoint);
        foreach (var attribute in attributes)
        {
            if (!set.Policies.TryGetValue(attribute.PolicyName, out var policy))
            {
                continue;
            }

            var index = requested.FindIndex(r => ReferenceEquals(r.Policy, policy));
            if (index >= 0)
            {
                requested[index] = (policy, attribute.Cost);
            }
            else
            {
                requested.Add((policy, attribute.Cost));
            }
        }

        return [.. requested];
    }

    // A remembered rejection was computed with the old limits; it may no longer hold. Requests still being evaluated
    // under the old set would add such entries after the clear: the set's generation makes them inert.
    protected override void OnReplaced(RateLimitPolicySet set) => denyCache.Clear();

    /// <summary>Either marker wins: ours, or the first-party limiter's, which apps migrating from it already carry.</summary>
    private static bool Disabled(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<DisableRateLimitAttribute>() is not null ||
        endpoint.Metadata.GetMetadata<DisableRateLimitingAttribute>() is not null;
}
