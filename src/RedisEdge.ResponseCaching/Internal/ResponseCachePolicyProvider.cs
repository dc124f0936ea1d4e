using Microsoft.Extensions.Options;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Keeps the current <see cref="ResponseCachePolicySet"/>, rebuilt whenever the options change.</summary>
internal sealed class ResponseCachePolicyProvider : IDisposable
{
    private readonly IDisposable? _subscription;
    private volatile ResponseCachePolicySet _current;

    public ResponseCachePolicyProvider(IOptionsMonitor<RedisResponseCachingOptions> monitor)
    {
        _current = new ResponseCachePolicySet(monitor.CurrentValue);
        _subscription = monitor.OnChange(options => _current = new ResponseCachePolicySet(options));
    }

    public ResponseCachePolicySet Current => _current;

    public void Dispose() => _subscription?.Dispose();
}
