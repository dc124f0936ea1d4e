using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// Runs a feature's Lua scripts: one round trip, a timeout budget per call, a circuit breaker per Redis server (on a
/// cluster, the primary that serves the keys' slot), and a span and duration measurement per call.
/// </summary>
/// <remarks>
/// Scripts go through <c>ScriptEvaluate(string, ...)</c>, so StackExchange.Redis sends <c>EVALSHA</c> once it has
/// loaded a script on a server, and when the server answers <c>NOSCRIPT</c> (restart, failover, <c>SCRIPT FLUSH</c>)
/// it drops its script cache and re-sends the text itself; the caller sees only the result. The tests pin this
/// (flush, and kill and restart under fail-closed features) because RedisEdge relies on it rather than retrying.
/// </remarks>
internal sealed class RedisScriptRunner
{
    private const int ClusterSlots = 16384;
    private static readonly TimeSpan TryAgainFirstDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan TryAgainMaxDelay = TimeSpan.FromMilliseconds(100);

    private readonly RedisEdgeConnection _connection;
    private readonly RedisFeatureTelemetry _telemetry;
    private readonly RedisCircuitBreakers _breakers;
    private readonly ConcurrentDictionary<RedisScript, bool[]> _loaded = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private int _clientErrorLogged;
    private int _followsTopology;

    public RedisScriptRunner(RedisEdgeConnection connection, RedisFeatureTelemetry telemetry, RedisFailurePolicyOptions policy, ILogger logger, TimeProvider? timeProvider = null)
    {
        _connection = connection;
        _telemetry = telemetry;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        Policy = policy;
        _breakers = new RedisCircuitBreakers(policy, _timeProvider, OwnerOf);
    }

    public RedisFailurePolicyOptions Policy { get; }

    /// <summary>
    /// Whether a breaker of this runner is open: on a single server, Redis is failing fast; on a cluster, the calls for
    /// at least one primary's slots are (the others may still be answered).
    /// </summary>
    public bool IsCircuitOpen => _breakers.AnyOpen;

    /// <summary>
    /// The breaker of a single server (every call's there), and on a cluster of calls whose server is not known yet;
    /// exposed for tests. A cluster call uses <see cref="BreakerFor"/>.
    /// </summary>
    internal RedisCircuitBreaker Breaker => _breakers.Default;

    /// <summary>The breaker that guards a call with <paramref name="keys"/>: that of the server serving their slot.</summary>
    internal RedisCircuitBreaker BreakerFor(RedisKey[] keys) =>
        keys.Length == 0 ? _breakers.Default : _breakers.For(_connection.Multiplexer.HashSlot(keys[0]), keys[0]);

    /// <summary>
    /// Evaluates <paramref name="script"/>. Throws <see cref="RedisEdgeUnavailableException"/> when Redis cannot
    /// answer within <see cref="RedisFailurePolicyOptions.Timeout"/>, answers with an outage error (OOM, READONLY,
    /// LOADING, BUSY, ...), the client refuses the command, or the breaker is open; a script error
    /// (<see cref="RedisServerException"/>, such as <c>WRONGTYPE</c>) is rethrown as it is.
    /// </summary>
    public Task<RedisResult> EvaluateAsync(RedisScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken) =>
        RunAsync(Begin(script, keys), script, keys, args, cancellationToken);

    /// <summary>
    /// Evaluates a settlement script (a complete, release, refund or abandon: a call that records or undoes work that
    /// already happened) outside the circuit breaker: an open breaker never refuses it, and its outcome never counts as
    /// the breaker's probe or as one of its failures. Otherwise as <see cref="EvaluateAsync"/>: one
    /// <see cref="RedisFailurePolicyOptions.Timeout"/> budget, <c>TRYAGAIN</c> and <c>NOSCRIPT</c> handled, span and
    /// instruments recorded, and an outage thrown as <see cref="RedisEdgeUnavailableException"/> so the caller can retry
    /// it within a budget of its own.
    /// </summary>
    public Task<RedisResult> SettleAsync(RedisScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken = default) =>
        RunAsync(new ScriptCall(this, script, StartActivity(script), _timeProvider.GetTimestamp(), BreakerFor(keys), guarded: false), script, keys, args, cancellationToken);

    private async Task<RedisResult> RunAsync(ScriptCall call, RedisScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        try
        {
            // SendAsync's loop, inline: one state machine per call instead of two on every feature's hot path.
            var delay = TryAgainFirstDelay;
            while (true)
            {
                try
                {
                    var result = await Send(script, keys, args, call, cancellationToken).ConfigureAwait(false);
                    call.Loaded();
                    return call.Succeeded(result);
                }
                catch (RedisServerException ex) when (call.SentByHash && ex.Kind == RedisErrorKind.NoScript)
                {
                    // The server lost the script (restart, failover, SCRIPT FLUSH): send the text again at once.
                    call.NotLoaded();
                }
                catch (RedisServerException ex) when (MayTryAgain(ex, call, delay))
                {
                    call.Retried();
                    await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
                    delay = NextTryAgainDelay(delay);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            call.Cancelled();
            throw;
        }
        catch (Exception ex)
        {
            if (call.Failed(ex) is { } unavailable)
            {
                throw unavailable;
            }

            throw;
        }
        finally
        {
            call.Dispose();
        }
    }

    /// <summary>
    /// Synchronous twin of <see cref="EvaluateAsync"/> for callers that must block (<c>ISession</c>'s synchronous
    /// members in lazy mode). It blocks the calling thread for at most <see cref="RedisFailurePolicyOptions.Timeout"/>
    /// (not the multiplexer's <c>SyncTimeout</c>), with the same breaker and failure handling as the asynchronous path.
    /// </summary>
    public RedisResult Evaluate(RedisScript script, RedisKey[] keys, RedisValue[] args)
    {
        var call = Begin(script, keys);
        try
        {
            return call.Succeeded(WaitBounded(SendAsync(script, keys, args, call, CancellationToken.None), Policy.Timeout));
        }
        catch (Exception ex)
        {
            if (call.Failed(ex) is { } unavailable)
            {
                throw unavailable;
            }

            throw;
        }
        finally
        {
            call.Dispose();
        }
    }

    /// <summary>
    /// Sends the script, and sends it again while a cluster answers <c>TRYAGAIN</c> (its keys' slot is being migrated
    /// and they are split between two nodes for a moment; the script did not run), all within one
    /// <see cref="RedisFailurePolicyOptions.Timeout"/> budget. <c>MOVED</c> and <c>ASK</c> never get here:
    /// StackExchange.Redis follows them itself.
    /// </summary>
    private async Task<RedisResult> SendAsync(RedisScript script, RedisKey[] keys, RedisValue[] args, ScriptCall call, CancellationToken cancellationToken)
    {
        var delay = TryAgainFirstDelay;
        while (true)
        {
            try
            {
                var result = await Send(script, keys, args, call, cancellationToken).ConfigureAwait(false);
                call.Loaded();
                return result;
            }
            catch (RedisServerException ex) when (call.SentByHash && ex.Kind == RedisErrorKind.NoScript)
            {
                call.NotLoaded();
            }
            catch (RedisServerException ex) when (MayTryAgain(ex, call, delay))
            {
                call.Retried();
                await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
                delay = NextTryAgainDelay(delay);
            }
        }
    }

    /// <summary>
    /// One send of the script, bounded by what is left of the call's timeout budget: <c>EVALSHA</c> with the script's
    /// SHA once this runner has seen it run on the server of the keys' slot, the text otherwise (StackExchange.Redis then
    /// sends <c>EVAL</c> and loads it, or <c>EVALSHA</c> when it knows the server has it, and handles <c>NOSCRIPT</c>).
    /// </summary>
    private Task<RedisResult> Send(RedisScript script, RedisKey[] keys, RedisValue[] args, ScriptCall call, CancellationToken cancellationToken)
    {
        var remaining = Policy.Timeout - _timeProvider.GetElapsedTime(call.Started);
        var database = _connection.Database;
        var evaluation = call.SendByHash(LoadedSlots(script), Slot(keys))
            ? database.ScriptEvaluateAsync(script.Hash, keys, args)
            : database.ScriptEvaluateAsync(script.Text, keys, args);
        return evaluation.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _timeProvider, cancellationToken);
    }

    /// <summary>
    /// Per script, whether it ran on the server of each cluster slot (entry 0 on a single node, where the client
    /// computes no slot). Kept per runner, so an app's first call of a script on each server sends the text, as
    /// StackExchange.Redis alone would; an entry is cleared when the server answers NOSCRIPT, and a slot that moves to a
    /// server without the script costs the same once.
    /// </summary>
    private bool[] LoadedSlots(RedisScript script) => _loaded.GetOrAdd(script, static _ => new bool[ClusterSlots + 1]);

    private int Slot(RedisKey[] keys)
    {
        var slot = keys.Length == 0 ? 0 : _connection.Multiplexer.HashSlot(keys[0]) + 1;
        return slot is < 0 or > ClusterSlots ? 0 : slot;
    }

    /// <summary>
    /// A <c>TRYAGAIN</c> answer, or a <c>MOVED</c>/<c>ASK</c> that StackExchange.Redis did not follow (it follows one
    /// redirect per message; a second one, while a migration is being finalised node by node, surfaces as an error),
    /// with time left in the budget for a wait of <paramref name="delay"/> and another send. The script did not run; a
    /// new send is routed by the slot map the redirect updated.
    /// </summary>
    private bool MayTryAgain(RedisServerException exception, ScriptCall call, TimeSpan delay) =>
        exception.Kind is RedisErrorKind.TryAgain or RedisErrorKind.Moved or RedisErrorKind.Ask &&
        _timeProvider.GetElapsedTime(call.Started) + delay < Policy.Timeout;

    private static TimeSpan NextTryAgainDelay(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TryAgainMaxDelay.Ticks));

    private static RedisResult WaitBounded(Task<RedisResult> evaluation, TimeSpan timeout)
    {
        bool completed;
        try
        {
            completed = evaluation.Wait(timeout);
        }
        catch (AggregateException)
        {
            completed = true;
        }

        if (!completed)
        {
            throw new TimeoutException($"The Redis call did not complete within {timeout}.");
        }

        return evaluation.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Enters the breaker of the keys' server and starts the span and clock of one call; throws when that breaker is open.
    /// </summary>
    private ScriptCall Begin(RedisScript script, RedisKey[] keys)
    {
        var breaker = BreakerFor(keys);
        if (!breaker.TryEnter())
        {
            RecordFailure(script, "circuit_open");
            throw new RedisEdgeUnavailableException(
                breaker.EndPoint is { } endPoint
                    ? $"Redis circuit breaker for {_telemetry.Name} on {EndPointCollection.ToString(endPoint)} is open; the call was not sent."
                    : $"Redis circuit breaker for {_telemetry.Name} is open; the call was not sent.",
                null,
                breaker.RetryAfter);
        }

        return new ScriptCall(this, script, StartActivity(script), _timeProvider.GetTimestamp(), breaker, guarded: true);
    }

    /// <summary>
    /// The server that serves <paramref name="slot"/>, as the client sees the cluster: the node it routes the key to,
    /// unless that node is only a stand-in because the slot's primary is disconnected (the cluster configuration still
    /// names the primary, whose breaker must count the failures). A replica of that primary is no stand-in: the client
    /// routes to it once it was promoted, while its configuration may still say otherwise. Called once per slot and
    /// topology change.
    /// </summary>
    private EndPoint? OwnerOf(int slot, RedisKey key)
    {
        var multiplexer = _connection.Multiplexer;
        FollowTopology(multiplexer);
        try
        {
            var server = multiplexer.GetServer(key);
            var configuration = server.ClusterConfiguration;
            if (configuration?.GetBySlot(slot) is { EndPoint: { } configured } owner &&
                !configured.Equals(server.EndPoint) &&
                configuration[server.EndPoint]?.ParentNodeId != owner.NodeId &&
                !multiplexer.GetServer(configured).IsConnected)
            {
                return configured;
            }

            return server.EndPoint;
        }
        catch (Exception ex) when (ex is RedisConnectionException or InvalidOperationException or ArgumentException)
        {
            // No server is reachable, or the configured one is not one the client knows: the default breaker guards
            // the call until the client knows the slot's server.
            return null;
        }
    }

    /// <summary>Points slots at their new server when the cluster moves them, once per runner.</summary>
    private void FollowTopology(IConnectionMultiplexer multiplexer)
    {
        if (Volatile.Read(ref _followsTopology) != 0 || Interlocked.Exchange(ref _followsTopology, 1) != 0)
        {
            return;
        }

        multiplexer.HashSlotMoved += (_, moved) => _breakers.Moved(moved.HashSlot, moved.NewEndPoint);
        multiplexer.ConfigurationChanged += (_, _) => _breakers.TopologyChanged();
        multiplexer.ConfigurationChangedBroadcast += (_, _) => _breakers.TopologyChanged();
    }

    /// <summary>
    /// A breaker's probe succeeded. The server may be back, or its slots may have moved to a promoted replica, and the
    /// client may have learned that without an event (a reconfiguration, the probe's own <c>MOVED</c>): every slot
    /// resolves its server again, so the killed primary's slots use the new primary's breaker from now on.
    /// </summary>
    private void CircuitClosed(RedisCircuitBreaker breaker, RedisScript script)
    {
        if (breaker.EndPoint is not null)
        {
            _breakers.TopologyChanged();
        }

        Log.CircuitClosed(_logger, _telemetry.Name, EndPointName(breaker), script.Name);
    }

    /// <summary>The server a breaker guards, for its log lines.</summary>
    private string EndPointName(RedisCircuitBreaker breaker) =>
        breaker.EndPoint is { } endPoint
            ? EndPointCollection.ToString(endPoint)
            : string.Join(",", _connection.Multiplexer.GetEndPoints().Select(EndPointCollection.ToString));

    /// <summary>
    /// The bookkeeping of one script call, shared by the synchronous and asynchronous paths. Every call settles the
    /// breaker exactly once (success, failure or abandoned), whatever was thrown, so a half-open probe is always released.
    /// An unguarded (settlement) call never entered the breaker and never touches it.
    /// </summary>
    private sealed class ScriptCall(RedisScriptRunner runner, RedisScript script, Activity? activity, long started, RedisCircuitBreaker breaker, bool guarded) : IDisposable
    {
        private readonly RedisCircuitBreaker? _breaker = guarded ? breaker : null;
        private string _outcome = "error";
        private bool _settled;

        private bool[]? _loadedSlots;
        private int _slot;

        public long Started => started;

        /// <summary>Whether the last send went as <c>EVALSHA</c> with the script's SHA.</summary>
        public bool SentByHash { get; private set; }

        /// <summary>Records where this send goes; returns whether the script is known to be on that server.</summary>
        public bool SendByHash(bool[] loadedSlots, int slot)
        {
            _loadedSlots = loadedSlots;
            _slot = slot;
            SentByHash = Volatile.Read(ref loadedSlots[slot]);
            return SentByHash;
        }

        /// <summary>The script ran on the server of the last send: later calls there send its SHA.</summary>
        public void Loaded()
        {
            if (!SentByHash)
            {
                Volatile.Write(ref _loadedSlots![_slot], true);
            }
        }

        /// <summary>That server answered NOSCRIPT: the next send there carries the text.</summary>
        public void NotLoaded() => Volatile.Write(ref _loadedSlots![_slot], false);

        /// <summary>How many times the call was sent again after a <c>TRYAGAIN</c>.</summary>
        public int Retries { get; private set; }

        public void Retried()
        {
            Retries++;
            activity?.AddEvent(new ActivityEvent("redisedge.tryagain"));
        }

        public RedisResult Succeeded(RedisResult result)
        {
            _settled = true;
            _outcome = "success";
            if (_breaker?.OnSuccess() == true)
            {
                runner.CircuitClosed(breaker, script);
            }

            return result;
        }

        public void Cancelled()
        {
            _settled = true;
            _outcome = "cancelled";
            _breaker?.OnAbandoned();
        }

        /// <summary>
        /// Settles a failed call: returns the <see cref="RedisEdgeUnavailableException"/> to throw, or
        /// <see langword="null"/> when <paramref name="exception"/> must propagate as it is (a script error or an
        /// exception RedisEdge does not classify).
        /// </summary>
        public RedisEdgeUnavailableException? Failed(Exception exception)
        {
            _settled = true;
            _outcome = RedisErrorClassifier.Outcome(exception);
            switch (RedisErrorClassifier.Classify(exception))
            {
                case RedisFailureKind.ScriptError:
                    // Redis answered: the connection is healthy even though the script failed.
                    if (_breaker?.OnSuccess() == true)
                    {
                        runner.CircuitClosed(breaker, script);
                    }

                    return null;

                case RedisFailureKind.Outage:
                    activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                    switch (_breaker?.OnFailure() ?? RedisCircuitTransition.None)
                    {
                        case RedisCircuitTransition.Opened:
                            Log.CircuitOpened(runner._logger, runner._telemetry.Name, runner.EndPointName(breaker), _outcome, script.Name, runner.Policy.BreakDuration, exception);
                            break;
                        case RedisCircuitTransition.ProbeFailed:
                            Log.CircuitProbeFailed(runner._logger, runner._telemetry.Name, runner.EndPointName(breaker), script.Name, _outcome, runner.Policy.BreakDuration, exception);
                            break;
                        default:
                            Log.ScriptCallFailed(runner._logger, script.Name, runner._telemetry.Name, _outcome, exception);
                            break;
                    }

                    runner.RecordFailure(script, _outcome);
                    return new RedisEdgeUnavailableException(
                        $"Redis did not answer {script.Name} for {runner._telemetry.Name} ({_outcome}).", exception, breaker.RetryAfter);

                case RedisFailureKind.ClientError:
                    // Refused for its shape, by the client before sending (RedisCommandException) or by the server
                    // (CROSSSLOT): nothing is learned about Redis' health, so release the probe and count no failure.
                    activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                    _breaker?.OnAbandoned();
                    if (Interlocked.Exchange(ref runner._clientErrorLogged, 1) == 0)
                    {
                        Log.ClientCommandError(runner._logger, script.Name, runner._telemetry.Name, exception);
                    }
                    else
                    {
                        Log.ScriptCallFailed(runner._logger, script.Name, runner._telemetry.Name, _outcome, exception);
                    }

                    runner.RecordFailure(script, _outcome);
                    return new RedisEdgeUnavailableException(
                        $"RedisEdge configuration error: {script.Name} for {runner._telemetry.Name} was refused for its shape (by StackExchange.Redis before sending it, or by Redis): {exception.Message}",
                        exception,
                        TimeSpan.FromSeconds(1));

                default:
                    _breaker?.OnAbandoned();
                    return null;
            }
        }

        public void Dispose()
        {
            if (!_settled)
            {
                _breaker?.OnAbandoned();
            }

            var duration = runner._telemetry.ScriptDuration;
            if (duration.Enabled)
            {
                duration.Record(
                    runner._timeProvider.GetElapsedTime(started).TotalSeconds,
                    new KeyValuePair<string, object?>("redisedge.script", script.Name),
                    new KeyValuePair<string, object?>("redisedge.outcome", _outcome));
            }

            activity?.SetTag("redisedge.outcome", _outcome);
            if (Retries > 0)
            {
                activity?.SetTag("redisedge.tryagain_retries", Retries);
            }

            activity?.Dispose();
        }
    }

    private Activity? StartActivity(RedisScript script)
    {
        var activity = _telemetry.ActivitySource.StartActivity("EVALSHA", ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system", "redis");
            activity.SetTag("db.system.name", "redis");
            activity.SetTag("db.operation.name", "EVALSHA");
            activity.SetTag("redisedge.script", script.Name);
            if (_connection.Multiplexer.GetEndPoints() is [var endpoint, ..])
            {
                switch (endpoint)
                {
                    case DnsEndPoint dns:
                        activity.SetTag("server.address", dns.Host);
                        activity.SetTag("server.port", dns.Port);
                        break;
                    case IPEndPoint ip:
                        activity.SetTag("server.address", ip.Address.ToString());
                        activity.SetTag("server.port", ip.Port);
                        break;
                }
            }
        }

        return activity;
    }

    private void RecordFailure(RedisScript script, string outcome)
    {
        if (_telemetry.ScriptFailures.Enabled)
        {
            _telemetry.ScriptFailures.Add(
                1,
                new KeyValuePair<string, object?>("redisedge.script", script.Name),
                new KeyValuePair<string, object?>("redisedge.outcome", outcome));
        }
    }
}
