using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// One partition of a <see cref="RedisEdgeRateLimiterPolicy"/>, as the first-party middleware's partitioned limiter
/// creates and caches it per partition key. It holds no state that matters: the count lives in Redis, so all it keeps is
/// its statistics and when it was last used, and the first-party limiter may drop it once idle (10 s) and make another.
/// </summary>
/// <remarks>
/// <see cref="AttemptAcquireCore"/> refuses as undecided without looking at anything: the first-party middleware always
/// follows a refused attempt with <see cref="AcquireAsyncCore"/>, which consults the local deny cache and makes at most
/// one script call, so a request is decided (and counted in the metrics) once.
/// </remarks>
internal sealed class HttpPartitionLimiter(RedisEdgeRateLimiterPolicy.Binding binding, RedisEdgeRateLimiterPolicy.Partition key) : RateLimiter
{
    private static readonly RedisPolicyLease Undecided = new(acquired: false, retryAfter: null, RedisRateLimiterFactory.NotDecidedSynchronously);

    private readonly LeaseStatistics _statistics = new();
    private long _lastUsed = binding.Time.GetTimestamp();

    public override TimeSpan? IdleDuration => binding.Time.GetElapsedTime(Volatile.Read(ref _lastUsed));

    public override RateLimiterStatistics? GetStatistics() => _statistics.Snapshot();

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => Undecided;

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        var started = binding.Time.GetTimestamp();
        Volatile.Write(ref _lastUsed, started);
        if (key.Verdict == RedisEdgeRateLimiterPolicy.Verdict.Denied)
        {
            binding.Metrics.Requests.Record(binding.Name, RateLimitingMetrics.ResultName(RedisRateLimitResult.Denied), started);
            _statistics.Record(acquired: false, remaining: 0);
            return ValueTask.FromResult<RateLimitLease>(binding.Denied);
        }

        return binding.Factory.AcquireAsync(binding.Name, key.Limiter, permitCount, _statistics, cancellationToken);
    }
}
