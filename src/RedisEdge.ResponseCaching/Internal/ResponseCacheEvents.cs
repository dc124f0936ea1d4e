using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// The instance's one subscription to the feature's pub/sub channel. Every fill, abandoned lease and eviction
/// publishes the entry keys it touched (inside the same script, so the message follows the write); this wakes the
/// requests waiting for those keys and drops near-cache copies.
/// </summary>
/// <remarks>
/// Pub/sub is at-most-once: a message published while the subscription is down is lost. Waiting requests
/// therefore also poll (<see cref="RedisResponseCachingDefaults.FillWaitPollInterval"/>), and the near cache is
/// suspended from the moment a connection fails until a sentinel this instance publishes comes back through the
/// subscription, which proves it is live again (Core's <see cref="RedisInvalidationSubscription"/>, which the
/// sessions' near cache shares).
/// </remarks>
internal sealed class ResponseCacheEvents : IHostedService, IDisposable
{
    private readonly NearCache _near;
    private readonly RedisInvalidationSubscription _subscription;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    public ResponseCacheEvents(RedisEdgeConnection connection, ResponseCacheKeys keys, NearCache near, ILogger<ResponseCacheEvents> logger)
    {
        _near = near;
        _subscription = new RedisInvalidationSubscription(
            connection,
            keys.Channel,
            "response caching",
            logger,
            OnMessage,
            near.Suspend,
            near.Resume,
            new RedisInvalidationSubscription.LogEvents(
                () => Log.SubscriptionLost(logger),
                (reason, exception) => Log.SubscribeFailed(logger, reason, exception),
                () => Log.SubscriptionRestored(logger)));
    }

    public Task StartAsync(CancellationToken cancellationToken) => _subscription.StartAsync();

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription.Stop();
        return Task.CompletedTask;
    }

    /// <summary>Keys some request is waiting on (for tests).</summary>
    internal int WaitingKeys => _waiters.Count;

    /// <summary>
    /// A task that completes when a message for <paramref name="key"/> arrives. Take it before the Redis call whose
    /// answer decides to wait, so a message in between is not missed.
    /// </summary>
    public Task WhenChanged(string key) =>
        _waiters.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Drops a waiter registration nobody will complete (the last waiter gave up).</summary>
    public void Forget(string key, Task waiter)
    {
        if (_waiters.TryGetValue(key, out var source) && source.Task == waiter && !waiter.IsCompleted)
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource>(key, source));
        }
    }

    private void OnMessage(string text)
    {
        foreach (var range in text.AsSpan().Split('\n'))
        {
            var key = text[range];
            _near.Invalidate(key);
            if (_waiters.TryRemove(key, out var waiter))
            {
                waiter.TrySetResult();
            }
        }
    }

    // Registered as itself and as a hosted service, so the container disposes it twice; the subscription ignores the second.
    public void Dispose() => _subscription.Dispose();
}
