using Microsoft.Extensions.Options;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Keeps the current <see cref="RateLimitPolicySet"/>, rebuilt whenever the options change.</summary>
internal sealed class RateLimitPolicyProvider : IDisposable
{
    private readonly LocalDenyCache _denyCache;
    private readonly IDisposable? _subscription;
    private volatile RateLimitPolicySet _current;

    public RateLimitPolicyProvider(IOptionsMonitor<RedisRateLimitingOptions> monitor, LocalDenyCache denyCache)
    {
        _denyCache = denyCache;
        _current = new RateLimitPolicySet(monitor.CurrentValue);
        _subscription = monitor.OnChange(options =>
        {
            _current = new RateLimitPolicySet(options);

            // A remembered rejection was computed with the old limits; it may no longer hold.
            _denyCache.Clear();
        });
    }

    public RateLimitPolicySet Current => _current;

    public void Dispose() => _subscription?.Dispose();
}
