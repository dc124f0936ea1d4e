using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>One partition of a RedisEdge policy as a <see cref="RateLimiter"/> (see <see cref="RedisRateLimiterFactory"/>).</summary>
internal sealed class RedisPolicyRateLimiter(RedisRateLimiterFactory factory, string policyName, string partitionKey) : RateLimiter
{
    private readonly LeaseStatistics _statistics = new();

    // The state lives in Redis: nothing here is ever idle enough to be worth collecting, nor held to be disposed.
    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics() => _statistics.Snapshot();

    protected override RateLimitLease AttemptAcquireCore(int permitCount) =>
        factory.AttemptAcquire(policyName, partitionKey, permitCount, _statistics);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        factory.AcquireAsync(policyName, partitionKey, permitCount, _statistics, cancellationToken);
}
