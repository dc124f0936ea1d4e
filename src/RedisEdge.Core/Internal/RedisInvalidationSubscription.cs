using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// One instance's subscription to a feature's invalidation channel, for an in-process near cache whose copies must be
/// dropped when scripts publish that the data changed. Pub/sub is at-most-once, so the cache may hold copies only
/// while the subscription is known to be live: on any connection failure <c>onSuspend</c> runs (the cache empties
/// itself and stops serving), and <c>onResume</c> runs only after a sentinel this instance publishes has come back
/// through the subscription, which proves it is live again end to end.
/// </summary>
/// <remarks>
/// Shared by the response cache's events and the sessions' near cache. Messages starting with
/// <see cref="SentinelPrefix"/> are this type's own and never reach <c>onMessage</c>. The loss and the restoration are
/// logged once each per outage, through the feature's own log events when it passes them (<see cref="LogEvents"/>),
/// otherwise through Core's (events 12-14).
/// </remarks>
internal sealed class RedisInvalidationSubscription : IDisposable
{
    public const string SentinelPrefix = "sync:";

    private readonly RedisEdgeConnection _connection;
    private readonly RedisChannel _channel;
    private readonly Action<string> _onMessage;
    private readonly Action _onSuspend;
    private readonly Action _onResume;
    private readonly LogEvents _log;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _sentinels = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _wake = new(0);
    private IConnectionMultiplexer? _multiplexer;
    private ChannelMessageQueue? _queue;
    private bool _resyncing;
    private bool _lost;
    private long _failures;
    private int _disposed;

    public RedisInvalidationSubscription(
        RedisEdgeConnection connection,
        RedisChannel channel,
        string feature,
        ILogger logger,
        Action<string> onMessage,
        Action onSuspend,
        Action onResume,
        LogEvents? log = null)
    {
        _connection = connection;
        _channel = channel;
        _onMessage = onMessage;
        _onSuspend = onSuspend;
        _onResume = onResume;
        _log = log ?? new LogEvents(
            () => Log.InvalidationSubscriptionLost(logger, feature),
            (reason, exception) => Log.InvalidationSubscribeFailed(logger, feature, reason, exception),
            () => Log.InvalidationSubscriptionRestored(logger, feature));
    }

    /// <summary>How a feature logs the subscription's state changes: lost (connection failed), subscribe failed (with the
    /// reason, and the exception only when the failure is not an expected outage), restored.</summary>
    public sealed record LogEvents(Action Lost, Action<string, Exception?> SubscribeFailed, Action Restored);

    /// <summary>Subscribes and resumes the cache, or starts retrying every second if Redis cannot be reached yet.</summary>
    public async Task StartAsync()
    {
        _multiplexer = _connection.Multiplexer;
        _multiplexer.ConnectionFailed += OnConnectionFailed;
        _multiplexer.ConnectionRestored += OnConnectionRestored;
        long failures;
        lock (_gate)
        {
            failures = _failures;
        }

        if (await TrySubscribeAsync().ConfigureAwait(false))
        {
            lock (_gate)
            {
                // A connection failure while subscribing started the verification loop, which resumes instead.
                if (failures == _failures && !_resyncing)
                {
                    _onResume();
                    return;
                }
            }
        }

        StartResync();
    }

    /// <summary>Stops the resynchronisation loop (the host is stopping).</summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (_disposed == 0)
            {
                _stopping.Cancel();
            }
        }
    }

    private async Task<bool> TrySubscribeAsync()
    {
        try
        {
            if (_queue is null)
            {
                var queue = await _multiplexer!.GetSubscriber().SubscribeAsync(_channel).ConfigureAwait(false);
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

        _onMessage(text);
    }

    internal void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        lock (_gate)
        {
            _failures++;
        }

        MarkLost(failure: null);
        _onSuspend();

        // Start verifying now rather than on ConnectionRestored: the multiplexer raises its events on the thread pool,
        // so a connection's failure can be handled after its restoration (and after the verification that followed
        // it). Waiting for a restoration that has already been handled would leave the cache off until the next
        // connection event; the loop below instead retries until the sentinel comes back after this failure.
        StartResync();
    }

    /// <summary>Logs the loss once per outage, however many connection events and resubscription attempts it takes.</summary>
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
            _log.Lost();
        }
        else
        {
            var expected = RedisErrorClassifier.Classify(failure) == RedisFailureKind.Outage;
            _log.SubscribeFailed($"{failure.GetType().Name}: {failure.Message}", expected ? null : failure);
        }
    }

    internal void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        StartResync();

        // A loop already running may be waiting out its retry interval: try again now.
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    private void StartResync()
    {
        lock (_gate)
        {
            if (_resyncing || _disposed != 0 || _stopping.IsCancellationRequested)
            {
                return;
            }

            // Cleared under this lock in the same step as the resume, so a failure handled after the resume always
            // starts a new loop, however far the old one has got with returning.
            _resyncing = true;
            var token = _stopping.Token;
            _ = Task.Run(() => ResyncAsync(token));
        }
    }

    /// <summary>Publishes a sentinel and waits for it to come back; only then resumes. Retries every second, or at once when a connection is restored.</summary>
    private async Task ResyncAsync(CancellationToken token)
    {
        var resumed = false;
        try
        {
            resumed = await VerifyUntilLiveAsync(token).ConfigureAwait(false);
        }
        finally
        {
            if (!resumed)
            {
                // Stopped (or failed) without resuming: a later connection event may start another loop.
                lock (_gate)
                {
                    _resyncing = false;
                }
            }
        }
    }

    /// <summary>Returns <see langword="true"/> once resumed (and <c>_resyncing</c> cleared), <see langword="false"/> when stopped.</summary>
    private async Task<bool> VerifyUntilLiveAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            string? nonce = null;
            try
            {
                long failures;
                lock (_gate)
                {
                    failures = _failures;
                }

                if (await TrySubscribeAsync().ConfigureAwait(false))
                {
                    nonce = SentinelPrefix + Guid.NewGuid().ToString("N");
                    var echo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _sentinels[nonce] = echo;
                    await _multiplexer!.GetSubscriber().PublishAsync(_channel, nonce).ConfigureAwait(false);
                    await echo.Task.WaitAsync(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
                    lock (_gate)
                    {
                        // A failure after the sentinel went out may have cost messages: verify again.
                        if (failures == _failures)
                        {
                            _lost = false;
                            _resyncing = false;
                            _onResume();
                            _log.Restored();
                            return true;
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
                return false;
            }
            finally
            {
                // Only this attempt's own: a loop started by a failure handled after this one resumed may have
                // published its sentinel already.
                if (nonce is not null)
                {
                    _sentinels.TryRemove(nonce, out _);
                }
            }

            try
            {
                await _wake.WaitAsync(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return false;
    }

    public void Dispose()
    {
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
