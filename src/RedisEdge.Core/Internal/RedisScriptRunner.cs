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
/// <para>
/// One file per concern: this one sends (one retry loop, <see cref="RunAsync"/>, for every entry point);
/// <c>.ScriptCall.cs</c> settles a call (breaker, logs, metrics); <c>.Topology.cs</c> finds the breaker of a call's
/// server; <c>.Telemetry.cs</c> starts spans and counts failures; <see cref="RedisScriptShaCache"/> remembers where
/// each script is loaded.
/// </para>
/// </remarks>
internal sealed partial class RedisScriptRunner
{
    private static readonly TimeSpan TryAgainFirstDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan TryAgainMaxDelay = TimeSpan.FromMilliseconds(100);

    private readonly RedisEdgeConnection _connection;
    private readonly RedisFeatureTelemetry _telemetry;
    private readonly RedisCircuitBreakers _breakers;
    private readonly RedisScriptShaCache _loaded = new();
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

    /// <summary>
    /// Synchronous twin of <see cref="EvaluateAsync"/> for callers that must block (<c>ISession</c>'s synchronous
    /// members in lazy mode). It blocks the calling thread for at most <see cref="RedisFailurePolicyOptions.Timeout"/>
    /// (not the multiplexer's <c>SyncTimeout</c>), with the same breaker and failure handling as the asynchronous path.
    /// </summary>
    public RedisResult Evaluate(RedisScript script, RedisKey[] keys, RedisValue[] args)
    {
        var call = Begin(script, keys);
        var run = RunAsync(call, script, keys, args, CancellationToken.None);
        if (WaitBounded(run, Policy.Timeout))
        {
            return run.GetAwaiter().GetResult();
        }

        // A kernel wait, not the run's timer, bounds a blocked thread (timers need the thread pool this caller may be
        // starving). Whichever of the two settles the call first counts it; the other changes nothing.
        if (call.Failed(new TimeoutException($"The Redis call did not complete within {Policy.Timeout}.")) is { } unavailable)
        {
            call.Dispose();
            throw unavailable;
        }

        return run.GetAwaiter().GetResult();
    }

    /// <summary>
    /// The one send loop of every call: sends the script, sends the text again at once when the server lost it
    /// (<c>NOSCRIPT</c>), and sends it again after a short backoff while a cluster answers <c>TRYAGAIN</c> or a
    /// redirect StackExchange.Redis did not follow (see <see cref="MayTryAgain"/>), all within one
    /// <see cref="RedisFailurePolicyOptions.Timeout"/> budget; then settles the call exactly once.
    /// </summary>
    private async Task<RedisResult> RunAsync(ScriptCall call, RedisScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        try
        {
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
    /// One send of the script, bounded by what is left of the call's timeout budget: <c>EVALSHA</c> with the script's
    /// SHA once this runner has seen it run on the server of the keys' slot, the text otherwise (StackExchange.Redis then
    /// sends <c>EVAL</c> and loads it, or <c>EVALSHA</c> when it knows the server has it, and handles <c>NOSCRIPT</c>).
    /// </summary>
    private Task<RedisResult> Send(RedisScript script, RedisKey[] keys, RedisValue[] args, ScriptCall call, CancellationToken cancellationToken)
    {
        var remaining = Policy.Timeout - _timeProvider.GetElapsedTime(call.Started);
        var database = _connection.Database;
        var evaluation = call.SendByHash(_loaded.Entry(script, keys.Length == 0 ? null : _connection.Multiplexer.HashSlot(keys[0])))
            ? database.ScriptEvaluateAsync(script.Hash, keys, args)
            : database.ScriptEvaluateAsync(script.Text, keys, args);
        return evaluation.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _timeProvider, cancellationToken);
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

    /// <summary>Blocks until <paramref name="evaluation"/> ends or <paramref name="timeout"/> passes; returns whether it ended.</summary>
    private static bool WaitBounded(Task<RedisResult> evaluation, TimeSpan timeout)
    {
        try
        {
            return evaluation.Wait(timeout);
        }
        catch (AggregateException)
        {
            return true;
        }
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
}
