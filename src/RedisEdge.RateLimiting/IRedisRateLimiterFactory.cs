using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting;

/// <summary>
/// Turns a named RedisEdge rate-limit policy into a <see cref="RateLimiter"/> or a
/// <see cref="PartitionedRateLimiter{TResource}"/> that shares the policy's fleet-wide quota, scripts, local deny cache,
/// failure mode and telemetry with <c>UseRedisRateLimiting()</c>. Registered by <c>AddRateLimiting()</c>.
/// </summary>
/// <remarks>
/// Fixed window, sliding window (log and counter), token bucket and GCRA meter policies are supported. Concurrency and
/// GCRA queue policies (<c>MaxQueueDelay</c> &gt; 0) are not yet: <see cref="Create"/> and
/// <see cref="CreatePartitioned{TResource}"/> throw <see cref="NotSupportedException"/> for them.
/// </remarks>
public interface IRedisRateLimiterFactory
{
    /// <summary>
    /// A limiter for one partition of <paramref name="policyName"/>. The partition key counts as the policy's partition
    /// value: under an <c>Ip</c> policy the key <c>203.0.113.7</c> shares the quota the middleware keeps for that
    /// client; under a <c>Global</c> policy every key shares the one quota.
    /// </summary>
    /// <exception cref="InvalidOperationException">No policy of that name is configured.</exception>
    /// <exception cref="NotSupportedException">The policy is a concurrency or GCRA queue policy.</exception>
    RateLimiter Create(string policyName, string partitionKey);

    /// <summary>A limiter of <paramref name="policyName"/> whose partition is <paramref name="partitionKey"/> of each resource.</summary>
    /// <exception cref="InvalidOperationException">No policy of that name is configured.</exception>
    /// <exception cref="NotSupportedException">The policy is a concurrency or GCRA queue policy.</exception>
    PartitionedRateLimiter<TResource> CreatePartitioned<TResource>(string policyName, Func<TResource, string> partitionKey);
}
