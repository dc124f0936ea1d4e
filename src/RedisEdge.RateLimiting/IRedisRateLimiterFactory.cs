using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting;

/// <summary>
/// Turns a named RedisEdge rate-limit policy into a <see cref="RateLimiter"/> or a
/// <see cref="PartitionedRateLimiter{TResource}"/> that shares the policy's fleet-wide quota, scripts, local deny cache,
/// failure mode and telemetry with <c>UseRedisRateLimiting()</c>. Registered by <c>AddRateLimiting()</c>.
/// </summary>
/// <remarks>
/// Every algorithm is supported. A concurrency policy's lease is held in Redis until the <see cref="RateLimitLease"/>
/// is disposed (or, never disposed, until its <c>LeaseTimeToLive</c> passes); a GCRA queue policy
/// (<c>MaxQueueDelay</c> &gt; 0) waits its computed delay in <c>AcquireAsync</c>, and a cancelled wait gives its slot back.
/// </remarks>
public interface IRedisRateLimiterFactory
{
    /// <summary>
    /// A limiter for one partition of <paramref name="policyName"/>. The partition key counts as the policy's partition
    /// value: under an <c>Ip</c> policy the key <c>203.0.113.7</c> shares the quota the middleware keeps for that
    /// client; under a <c>Global</c> policy every key shares the one quota.
    /// </summary>
    /// <exception cref="InvalidOperationException">No policy of that name is configured.</exception>
    RateLimiter Create(string policyName, string partitionKey);

    /// <summary>A limiter of <paramref name="policyName"/> whose partition is <paramref name="partitionKey"/> of each resource.</summary>
    /// <exception cref="InvalidOperationException">No policy of that name is configured.</exception>
    PartitionedRateLimiter<TResource> CreatePartitioned<TResource>(string policyName, Func<TResource, string> partitionKey);
}
