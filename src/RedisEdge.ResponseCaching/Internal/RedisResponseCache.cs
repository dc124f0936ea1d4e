using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using StackExchange.Redis;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Eviction by tag and by resource. The first step records the eviction (fencing every fill that began before it),
/// then the entries are deleted in bounded steps; this instance drops its own near-cache copies of each step's keys
/// before the next, so a request it serves after the eviction returns never sees an evicted copy.
/// </summary>
internal sealed class RedisResponseCache(
    ResponseCachePolicyProvider policies,
    ResponseCacheKeys keys,
    ResponseCacheStore store,
    NearCache near,
    ResponseCachingMetrics metrics) : IRedisResponseCache
{
    public async Task<long> EvictByTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tag);
        var set = policies.Current;
        var evictions = set.Policies.Values
            .Where(p => p.Tags.Length > 0)
            .Select(p => EvictSetAsync(p, keys.Tag(p, tag), cancellationToken))
            .ToArray();
        var evicted = (await Task.WhenAll(evictions).ConfigureAwait(false)).Sum();
        metrics.Evicted("tag", evicted);
        return evicted;
    }

    public async Task<long> EvictAsync(string policyName, string pathAndQuery, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policyName);
        ArgumentNullException.ThrowIfNull(pathAndQuery);
        if (!policies.Current.Policies.TryGetValue(policyName, out var policy))
        {
            throw new InvalidOperationException($"Response-cache policy '{policyName}' is not defined.");
        }

        var separator = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = separator < 0 ? pathAndQuery : pathAndQuery[..separator];
        var query = separator < 0 ? new QueryCollection() : new QueryCollection(QueryHelpers.ParseQuery(pathAndQuery[separator..]));
        var resource = ResponseCacheKeys.ResourceString(policy, PathString.FromUriComponent(path.StartsWith('/') ? path : "/" + path), query);
        var evicted = await EvictSetAsync(policy, keys.Resource(policy, resource), cancellationToken).ConfigureAwait(false);
        metrics.Evicted("resource", evicted);
        return evicted;
    }

    private async Task<long> EvictSetAsync(ResponseCachePolicy policy, RedisKey set, CancellationToken cancellationToken)
    {
        long evicted = 0;
        var first = true;
        while (true)
        {
            // Only the first step may be cancelled: once the eviction is on record, its entries are deleted to the end.
            var step = await store.EvictStepAsync(policy, set, first, first ? cancellationToken : CancellationToken.None).ConfigureAwait(false);
            first = false;
            foreach (var key in step.Keys)
            {
                near.Invalidate(key);
            }

            evicted += step.Deleted;
            if (step.Left == 0)
            {
                return evicted;
            }
        }
    }
}
