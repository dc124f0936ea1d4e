using System.Diagnostics;
using StackExchange.Redis;

namespace RedisEdge.Internal;

internal sealed partial class RedisScriptRunner
{
    /// <summary>
    /// The bookkeeping of one script call, shared by the synchronous and asynchronous paths. Every call settles the
    /// breaker exactly once (success, failure or abandoned), whatever was thrown, so a half-open probe is always released;
    /// when the synchronous path gives up waiting while the send loop still runs, the first of the two to settle counts
    /// and the other changes nothing. An unguarded (settlement) call never entered the breaker and never touches it.
    /// </summary>
    private sealed class ScriptCall(RedisScriptRunner runner, RedisScript script, Activity? activity, long started, RedisCircuitBreaker breaker, bool guarded) : IDisposable
    {
        private readonly RedisCircuitBreaker? _breaker = guarded ? breaker : null;
        private string _outcome = "error";
        private int _settled;
        private int _disposed;
        private RedisScriptShaCache.Slot _sentTo;

        public long Started => started;

        /// <summary>Whether the last send went as <c>EVALSHA</c> with the script's SHA.</summary>
        public bool SentByHash { get; private set; }

        /// <summary>Records where this send goes; returns whether the script is known to be on that server.</summary>
        public bool SendByHash(RedisScriptShaCache.Slot slot)
        {
            _sentTo = slot;
            SentByHash = slot.IsLoaded;
            return SentByHash;
        }

        /// <summary>The script ran on the server of the last send: later calls there send its SHA.</summary>
        public void Loaded()
        {
            if (!SentByHash)
            {
                _sentTo.MarkLoaded();
            }
        }

        /// <summary>That server answered NOSCRIPT: the next send there carries the text.</summary>
        public void NotLoaded() => _sentTo.MarkNotLoaded();

        /// <summary>Claims the call's one settlement; <see langword="false"/> when it was settled already.</summary>
        private bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;

        /// <summary>How many times the call was sent again after a <c>TRYAGAIN</c>.</summary>
        public int Retries { get; private set; }

        public void Retried()
        {
            Retries++;
            activity?.AddEvent(new ActivityEvent("redisedge.tryagain"));
        }

        public RedisResult Succeeded(RedisResult result)
        {
            if (!TrySettle())
            {
                return result;
            }

            _outcome = "success";
            if (_breaker?.OnSuccess() == true)
            {
                runner.CircuitClosed(breaker, script);
            }

            return result;
        }

        public void Cancelled()
        {
            if (!TrySettle())
            {
                return;
            }

            _outcome = "cancelled";
            _breaker?.OnAbandoned();
        }

        /// <summary>
        /// Settles a failed call: returns the <see cref="RedisEdgeUnavailableException"/> to throw, or
        /// <see langword="null"/> when <paramref name="exception"/> must propagate as it is (a script error or an
        /// exception RedisEdge does not classify, or a call settled already).
        /// </summary>
        public RedisEdgeUnavailableException? Failed(Exception exception)
        {
            if (!TrySettle())
            {
                return null;
            }

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
                    // An outage is expected operation, not a bug: the transitions carry the error's message, not its
                    // stack trace (the per-call Debug line keeps the exception).
                    switch (_breaker?.OnFailure() ?? RedisCircuitTransition.None)
                    {
                        case RedisCircuitTransition.Opened:
                            Log.CircuitOpened(runner._logger, runner._telemetry.Name, runner.EndPointName(breaker), _outcome, script.Name, exception.Message, runner.Policy.BreakDuration);
                            break;
                        case RedisCircuitTransition.ProbeFailed:
                            Log.CircuitProbeFailed(runner._logger, runner._telemetry.Name, runner.EndPointName(breaker), script.Name, _outcome, exception.Message, runner.Policy.BreakDuration);
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
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            if (TrySettle())
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
}
