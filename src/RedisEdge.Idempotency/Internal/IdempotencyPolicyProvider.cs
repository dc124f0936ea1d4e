using Microsoft.Extensions.Options;

namespace RedisEdge.Idempotency.Internal;

/// <summary>Keeps the current <see cref="IdempotencyPolicySet"/>, rebuilt whenever the options change.</summary>
internal sealed class IdempotencyPolicyProvider : IDisposable
{
    private readonly IDisposable? _subscription;
    private volatile IdempotencyPolicySet _current;

    public IdempotencyPolicyProvider(IOptionsMonitor<RedisIdempotencyOptions> monitor)
    {
        _current = new IdempotencyPolicySet(monitor.CurrentValue);
        _subscription = monitor.OnChange(options => _current = new IdempotencyPolicySet(options));
    }

    public IdempotencyPolicySet Current => _current;

    public void Dispose() => _subscription?.Dispose();
}
