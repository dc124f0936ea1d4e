using Microsoft.Extensions.Options;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Keeps the current <see cref="RateLimitPolicySet"/>, rebuilt whenever the options change.</summary>
internal sealed class RateLimitPolicyProvider : IDisposable
{
    private readonly LocalDenyCache _denyCache;
    private readonly IDisposable? _subscription;
    private volatile RateLimitPolicySet _current;
    private long _generation;

    public RateLimitPolicyProvider(IOptionsMonitor<RedisRateLimitingOptions> monitor, LocalDenyCache denyCache)
    {
        _denyCache = denyCache;
        _current = new RateLimitPolicySet(monitor.CurrentValue);
        _subscription = monitor.OnChange(options =>
        {
            // A remembered rejection was computed with the old limits; it may no longer hold. Requests still being
            // evaluated under the old set would add such entries after the clear: the generation makes them inert.
            _current = new RateLimitPolicySet(options, Interlocked.Increment(ref _generation));
            _denyCache.Clear();
        });
    }

    public RateLimitPolicySet Current => _current;

    public void Dispose() => _subscription?.Dispose();
}
