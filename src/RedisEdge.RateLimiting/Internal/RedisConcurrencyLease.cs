using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// A granted lease of a concurrency policy: its permits stay taken, in Redis (members of the policy's lease sorted set)
/// or, decided under <c>LocalFallback</c>, in this instance's memory, until the lease is disposed. Disposing gives them
/// back exactly once, without waiting: the release is queued on the connection that took them, through the runner's
/// settlement path (outside the circuit breaker, bounded by <c>Failure:Timeout</c>). A lease never disposed, or whose
/// release fails, expires in Redis after the policy's <c>LeaseTimeToLive</c>.
/// </summary>
internal sealed class RedisConcurrencyLease : RateLimitLease
{
    private readonly RedisRateLimiter? _limiter;
    private readonly LocalFallbackLimiter? _fallback;
    private readonly List<PolicyDecision> _decisions;
    private readonly string? _token;
    private int _disposed;

    public RedisConcurrencyLease(RedisRateLimiter limiter, List<PolicyDecision> decisions, string token)
    {
        _limiter = limiter;
        _decisions = decisions;
        _token = token;
    }

    public RedisConcurrencyLease(LocalFallbackLimiter fallback, List<PolicyDecision> decisions)
    {
        _fallback = fallback;
        _decisions = decisions;
    }

    public override bool IsAcquired => true;

    public override IEnumerable<string> MetadataNames => [];

    /// <summary>The release the first dispose started (completed when there was nothing in Redis to release); for tests.</summary>
    internal Task Released { get; private set; } = Task.CompletedTask;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (_limiter is not null)
            {
                // Never throws: a failed release is logged and the lease expires on its own.
                Released = _limiter.ReleaseAsync(_decisions, _token!);
            }
            else
            {
                _fallback!.Release(_decisions);
            }
        }

        base.Dispose(disposing);
    }
}
