using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// Runs a feature's Lua scripts: one round trip, a timeout budget per call, a circuit breaker, and a span and
/// duration measurement per call.
/// </summary>
/// <remarks>
/// Scripts go through <c>ScriptEvaluate(string, ...)</c>, so StackExchange.Redis sends <c>EVALSHA</c> once it has
/// loaded a script on a server, and when the server answers <c>NOSCRIPT</c> (restart, failover, <c>SCRIPT FLUSH</c>)
/// it drops its script cache and re-sends the text itself; the caller sees only the result. The tests pin this
/// (flush, and kill and restart under fail-closed features) because RedisEdge relies on it rather than retrying.
/// </remarks>
internal sealed class RedisScriptRunner
{
    private readonly RedisEdgeConnection _connection;
    private readonly RedisFeatureTelemetry _telemetry;
    private readonly RedisCircuitBreaker _breaker;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;

    public RedisScriptRunner(RedisEdgeConnection connection, RedisFeatureTelemetry telemetry, RedisFailurePolicyOptions policy, ILogger logger, TimeProvider? timeProvider = null)
    {
        _connection = connection;
        _telemetry = telemetry;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        Policy = policy;
        _breaker = new RedisCircuitBreaker(policy, _timeProvider);
    }

    public RedisFailurePolicyOptions Policy { get; }

    public bool IsCircuitOpen => _breaker.IsOpen;

    /// <summary>
    /// Evaluates <paramref name="script"/>. Throws <see cref="RedisEdgeUnavailableException"/> when Redis cannot
    /// answer within <see cref="RedisFailurePolicyOptions.Timeout"/> or the breaker is open; a script error
    /// (<see cref="RedisServerException"/>) is rethrown as it is.
    /// </summary>
    public async Task<RedisResult> EvaluateAsync(RedisScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        var call = Begin(script);
        try
        {
            var evaluation = _connection.Database.ScriptEvaluateAsync(script.Text, keys, args);
            return call.Succeeded(await evaluation.WaitAsync(Policy.Timeout, _timeProvider, cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            call.Cancelled();
            throw;
        }
        catch (Exception ex) when (IsScriptError(ex))
        {
            call.ScriptFailed();
            throw;
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw call.Unavailable(ex);
        }
        finally
        {
            call.Dispose();
        }
    }

    /// <summary>
    /// Synchronous twin of <see cref="EvaluateAsync"/> for callers that must block (<c>ISession</c>'s synchronous
    /// members). It uses StackExchange.Redis' synchronous path, which completes without a thread-pool thread, so a
    /// blocked request cannot starve the pool the way sync-over-async does. The wait is bounded by the multiplexer's
    /// <c>SyncTimeout</c> instead of <see cref="RedisFailurePolicyOptions.Timeout"/>; the breaker applies as usual.
    /// </summary>
    public RedisResult Evaluate(RedisScript script, RedisKey[] keys, RedisValue[] args)
    {
        var call = Begin(script);
        try
        {
            return call.Succeeded(_connection.Database.ScriptEvaluate(script.Text, keys, args));
        }
        catch (Exception ex) when (IsScriptError(ex))
        {
            call.ScriptFailed();
            throw;
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw call.Unavailable(ex);
        }
        finally
        {
            call.Dispose();
        }
    }

    // Redis answered: the connection is healthy even though the script failed (WRONGTYPE from foreign data, say).
    private static bool IsScriptError(Exception ex) => ex is RedisServerException;

    private static bool IsUnavailable(Exception ex) =>
        ex is TimeoutException or RedisConnectionException or RedisTimeoutException or ObjectDisposedException;

    /// <summary>Enters the breaker and starts the span and clock of one call; throws when the breaker is open.</summary>
    private ScriptCall Begin(RedisScript script)
    {
        if (!_breaker.TryEnter())
        {
            RecordFailure(script, "circuit_open");
            throw new RedisEdgeUnavailableException($"Redis circuit breaker for {_telemetry.Name} is open; the call was not sent.");
        }

        return new ScriptCall(this, script, StartActivity(script), _timeProvider.GetTimestamp());
    }

    /// <summary>The bookkeeping of one script call, shared by the synchronous and asynchronous paths.</summary>
    private sealed class ScriptCall(RedisScriptRunner runner, RedisScript script, Activity? activity, long started) : IDisposable
    {
        private string _outcome = "error";

        public RedisResult Succeeded(RedisResult result)
        {
            runner._breaker.OnSuccess();
            _outcome = "success";
            return result;
        }

        public void Cancelled()
        {
            runner._breaker.OnAbandoned();
            _outcome = "cancelled";
        }

        public void ScriptFailed() => runner._breaker.OnSuccess();

        public RedisEdgeUnavailableException Unavailable(Exception ex)
        {
            _outcome = ex is RedisConnectionException ? "connection_error" : "timeout";
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (runner._breaker.OnFailure())
            {
                Log.CircuitOpened(runner._logger, runner._telemetry.Name, runner.Policy.BreakDuration, ex);
            }
            else
            {
                Log.ScriptCallFailed(runner._logger, script.Name, runner._telemetry.Name, _outcome, ex);
            }

            runner.RecordFailure(script, _outcome);
            return new RedisEdgeUnavailableException($"Redis did not answer {script.Name} for {runner._telemetry.Name} ({_outcome}).", ex);
        }

        public void Dispose()
        {
            var duration = runner._telemetry.ScriptDuration;
            if (duration.Enabled)
            {
                duration.Record(
                    runner._timeProvider.GetElapsedTime(started).TotalSeconds,
                    new KeyValuePair<string, object?>("redisedge.script", script.Name),
                    new KeyValuePair<string, object?>("redisedge.outcome", _outcome));
            }

            activity?.SetTag("redisedge.outcome", _outcome);
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
