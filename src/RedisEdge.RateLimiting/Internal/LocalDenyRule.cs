using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The one rule, for the middleware and the <see cref="System.Threading.RateLimiting.RateLimiter"/>s alike, of which
/// decisions the local deny cache may answer and which rejections it may remember.
/// </summary>
internal sealed class LocalDenyRule(RateLimitPolicyProvider policies, RedisRateLimiter limiter, IServiceProvider services)
{
    /// <summary>
    /// Whether the cache may answer for <paramref name="policy"/>: not a shadow policy (it never refuses), nor a
    /// concurrency policy, whose slots free when a holder releases, a time no one knows (see <see cref="LocalDenyCache"/>).
    /// </summary>
    public static bool MayAnswer(RateLimitPolicySet set, RateLimitPolicy policy) =>
        set.LocalDenyCache && !policy.Shadow && policy.Algorithm != RedisRateLimitAlgorithm.Concurrency;

    /// <summary>Whether the cache may remember the rejection Redis answered for <paramref name="decision"/>.</summary>
    public bool MayRemember(RateLimitPolicySet set, PolicyDecision decision) =>
        decision.RetryMs > 0 && MayAnswer(set, decision.Policy) && !MayBeReservedAcrossSlots(set, decision.Policy);

    /// <summary>
    /// Whether a rejection by <paramref name="policy"/> may have been caused by a reservation that a refund later undoes,
    /// so the local deny cache must not remember it. On Redis Cluster a request whose policies span slots reserves in
    /// each slot, then refunds where another slot refused: between the two its reservation can make Redis reject a
    /// request that would fit once the refund lands, and a remembered rejection would then outlive its cause by up to
    /// a window. A limiter's acquisition decides one policy and never spans slots, but it can be the request the
    /// middleware's reservation made Redis reject, so the same rule applies to it. Rejections by the other policies
    /// (and every rejection on a single node or with SingleHashSlot, where nothing is ever reserved and refunded) stay
    /// exact and are remembered.
    /// </summary>
    private bool MayBeReservedAcrossSlots(RateLimitPolicySet set, RateLimitPolicy policy)
    {
        if (policy.SingleHashSlot || !limiter.OnCluster)
        {
            return false;
        }

        // Computed once per policy set from every endpoint (racing requests compute the same set).
        var reserved = set.ReservedAcrossSlots ??= ReservedAcrossSlots(set);
        return reserved.Contains(policy);
    }

    /// <summary>
    /// The policies some endpoint (or a request without one) combines with a policy that partitions differently: only
    /// such requests can span slots, since policies that partition alike always share their partition's slot.
    /// </summary>
    private HashSet<RateLimitPolicy> ReservedAcrossSlots(RateLimitPolicySet set)
    {
        var reserved = new HashSet<RateLimitPolicy>();
        void Add((RateLimitPolicy Policy, int Cost)[] requested)
        {
            if (requested.Length < 2)
            {
                return;
            }

            var first = requested[0].Policy;
            foreach (var (policy, _) in requested)
            {
                if (policy.Partition != first.Partition || !string.Equals(policy.PartitionName, first.PartitionName, StringComparison.Ordinal))
                {
                    foreach (var (spanning, _) in requested)
                    {
                        reserved.Add(spanning);
                    }

                    return;
                }
            }
        }

        Add(set.WithoutEndpoint);
        if (services.GetService<EndpointDataSource>() is { } source)
        {
            foreach (var endpoint in source.Endpoints)
            {
                Add(policies.Resolve(endpoint, set) ?? []);
            }
        }

        return reserved;
    }
}
