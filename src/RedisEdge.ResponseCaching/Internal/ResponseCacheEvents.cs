using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using StackExchange.Redis;

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
/// subscription, which proves it is live again.
/// </remarks>
internal sealed class ResponseCacheEvents : IHostedService, IDisposable
{
    private const string SentinelPrefix = "sync:";

    private readonly RedisEdgeConnection _connection;
    private readonly ResponseCacheKeys _keys;
    private readonly NearCache _near;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _sentinels = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private IConnectionMultiplexer? _multiplexer;
    private ChannelMessageQueue? _queue;
    private Task? _resync;
    private bool _lost;
    private long _failures;
    private int _disposed;

    public ResponseCacheEvents(RedisEdgeConnection connection, ResponseCacheKeys keys, NearCache near, ILogger<ResponseCacheEvents> logger)
    {
        _connection = connection;
        _keys = keys;
        _near = near;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _multiplexer = _connection.Multiplexer;
        _multiplexer.ConnectionFailed += OnConnectionFailed;
        _multiplexer.ConnectionRestored += OnConnectionRestored;
        if (await TrySubscribeAsync().ConfigureAwait(false))
        {
            _near.Resume();
        }
        else
        {
            StartResync();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // A test host may dispose the container before stopping the hosted services.
        lock (_gate)
        {
            if (_disposed == 0)
            {
                _stopping.Cancel();
            }
        }

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

    private async Task<bool> TrySubscribeAsync()
    {
        try
        {
            if (_queue is null)
            {
                var queue = await _multiplexer!.GetSubscriber().SubscribeAsync(_keys.Channel).ConfigureAwait(false);
                queue.OnMessage(OnMessage);
                _queue = queue;
            }

            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            MarkLost(ex);
            return false;
        }
    }

    private void OnMessage(ChannelMessage message)
    {
        var text = (string?)message.Message;
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        if (text.StartsWith(SentinelPrefix, StringComparison.Ordinal))
        {
            if (_sentinels.TryRemove(text, out var sentinel))
            {
                sentinel.TrySetResult();
            }

            return;
        }

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

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        lock (_gate)
        {
            _failures++;
        }

        MarkLost(failure: null);
        _near.Suspend();
    }

    /// <summary>
    /// Logs the loss once per outage, however many connection events and resubscription attempts it takes (the resync
    /// retries every second), and without a stack trace when the failure is an expected outage.
    /// </summary>
    private void MarkLost(Exception? failure)
    {
        lock (_gate)
        {
            if (_lost)
            {
                return;
            }

            _lost = true;
        }

        if (failure is null)
        {
            Log.SubscriptionLost(_logger);
        }
        else
        {
            var expected = RedisErrorClassifier.Classify(failure) == RedisFailureKind.Outage;
            Log.SubscribeFailed(_logger, $"{failure.GetType().Name}: {failure.Message}", expected ? null : failure);
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => StartResync();

    private void StartResync()
    {
        lock (_gate)
        {
            if (_resync is { IsCompleted: false } || _disposed != 0 || _stopping.IsCancellationRequested)
            {
                return;
            }

            var token = _stopping.Token;
            _resync = Task.Run(() => ResyncAsync(token));
        }
    }

    /// <summary>
    /// Publishes a sentinel and waits for it to come back through the subscription; only then is the near cache
    /// resumed. Retries every second until it succeeds or the host stops.
    /// </summary>
    private async Task ResyncAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                long failures;
                lock (_gate)
                {
                    failures = _failures;
                }

                if (await TrySubscribeAsync().ConfigureAwait(false))
                {
                    var nonce = SentinelPrefix + Guid.NewGuid().ToString("N");
                    var echo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _sentinels[nonce] = echo;
                    await _multiplexer!.GetSubscriber().PublishAsync(_keys.Channel, nonce).ConfigureAwait(false);
                    await echo.Task.WaitAsync(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
                    lock (_gate)
                    {
                        // A failure after the sentinel went out may have cost messages: verify again.
                        if (failures == _failures)
                        {
                            _lost = false;
                            _near.Resume();
                            Log.SubscriptionRestored(_logger);
                            return;
                        }
                    }

                    continue;
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // Still down; try again below.
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                foreach (var stale in _sentinels.Keys)
                {
                    _sentinels.TryRemove(stale, out _);
                }
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        // Registered as itself and as a hosted service, so the container disposes it twice.
        lock (_gate)
        {
            if (_disposed == 1)
            {
                return;
            }

            _disposed = 1;
            _stopping.Cancel();
        }

        if (_multiplexer is not null)
        {
            _multiplexer.ConnectionFailed -= OnConnectionFailed;
            _multiplexer.ConnectionRestored -= OnConnectionRestored;
        }

        try
        {
            _queue?.Unsubscribe();
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
        {
            // The connection is going away with the host.
        }

        _stopping.Dispose();
    }
}
