using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// A RedisEdge policy as a <see cref="PartitionedRateLimiter{TResource}"/>: each resource counts against the partition
/// <c>partitionKey(resource)</c> names. Statistics are the limiter's as a whole (its last decision, over any partition).
/// </summary>
internal sealed class RedisPolicyPartitionedRateLimiter<TResource>(RedisRateLimiterFactory factory, string policyName, Func<TResource, string> partitionKey)
    : PartitionedRateLimiter<TResource>
{
    private readonly LeaseStatistics _statistics = new();

    public override RateLimiterStatistics? GetStatistics(TResource resource) => _statistics.Snapshot();

    protected override RateLimitLease AttemptAcquireCore(TResource resource, int permitCount) =>
        factory.AttemptAcquire(policyName, Key(resource), permitCount, _statistics);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(TResource resource, int permitCount, CancellationToken cancellationToken) =>
        factory.AcquireAsync(policyName, Key(resource), permitCount, _statistics, cancellationToken);

    private string Key(TResource resource) =>
        partitionKey(resource) ?? throw new InvalidOperationException($"The partition function of the RedisEdge limiter '{policyName}' returned null.");
}
