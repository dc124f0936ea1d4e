namespace RedisEdge.ResponseCaching;

/// <summary>
/// Invalidates cached responses for the whole fleet. Inject it into handlers: a product update evicts
/// <c>product:{id}</c>.
/// </summary>
public interface IRedisResponseCache
{
    /// <summary>
    /// Deletes every entry carrying <paramref name="tag"/> (a resolved tag such as <c>product:42</c>), atomically per
    /// policy, and tells every instance to drop its near-cache copies. A fill that started before the eviction is
    /// refused, so an older response never lands after it.
    /// </summary>
    /// <returns>The number of entries deleted.</returns>
    /// <exception cref="RedisEdgeUnavailableException">Redis could not be reached.</exception>
    Task<long> EvictByTagAsync(string tag, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the entries of one resource under one policy: every variant (header, user, host) cached for
    /// <paramref name="pathAndQuery"/> (<c>/products/42</c>, with the query keys the policy varies by).
    /// </summary>
    /// <returns>The number of entries deleted.</returns>
    /// <exception cref="InvalidOperationException">The policy is not defined.</exception>
    /// <exception cref="RedisEdgeUnavailableException">Redis could not be reached.</exception>
    Task<long> EvictAsync(string policyName, string pathAndQuery, CancellationToken cancellationToken = default);
}
