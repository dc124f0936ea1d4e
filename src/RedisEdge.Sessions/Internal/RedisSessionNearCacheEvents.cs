using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// The instance's subscription to the sessions' invalidation channel while the near cache is on: every commit, destroy
/// and regenerate publishes the session's hash tag from inside its script, and each message drops the copies it makes
/// stale. A lost connection or subscription empties the near cache until the subscription is verified live again.
/// </summary>
internal sealed class RedisSessionNearCacheEvents : IHostedService, IDisposable
{
    private readonly RedisSessionNearCache _near;
    private readonly RedisInvalidationSubscription? _subscription;

    public RedisSessionNearCacheEvents(RedisEdgeConnection connection, RedisSessionStore store, ILogger<RedisSessionNearCacheEvents> logger)
    {
        _near = store.Near;
        if (_near.Enabled)
        {
            _subscription = new RedisInvalidationSubscription(connection, store.Channel, "sessions", logger, _near.OnMessage, _near.Suspend, _near.Resume);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => _subscription?.StartAsync() ?? Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Stop();
        _near.Suspend();
        return Task.CompletedTask;
    }

    public void Dispose() => _subscription?.Dispose();
}
