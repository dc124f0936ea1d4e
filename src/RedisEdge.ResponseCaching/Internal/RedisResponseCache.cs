using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Eviction by tag and by resource, one atomic script per policy (each policy is one slot).</summary>
internal sealed class RedisResponseCache(
    ResponseCachePolicyProvider policies,
    ResponseCacheKeys keys,
    ResponseCacheStore store,
    ResponseCachingMetrics metrics) : IRedisResponseCache
{
    public async Task<long> EvictTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tag);
        var set = policies.Current;
        var evictions = set.Policies.Values
            .Where(p => p.Tags.Length > 0)
            .Select(p => store.EvictSetAsync(keys.Tag(p, tag), cancellationToken))
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
        var evicted = await store.EvictSetAsync(keys.Resource(policy, resource), cancellationToken).ConfigureAwait(false);
        metrics.Evicted("resource", evicted);
        return evicted;
    }
}
