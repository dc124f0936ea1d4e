using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Turns a request's policy decisions into one <c>rate_limit.lua</c> call and reads the answer back.</summary>
internal sealed class RedisRateLimiter
{
    internal const int ArgsPerPolicy = 8;
    private static readonly RedisScript RateLimitScript = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "rate_limit.lua");
    private static readonly RedisScript ReleaseScript = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "release_lease.lua");

    private readonly RedisEdgeConnection _connection;
    private readonly RedisKeyBuilder _keys;
    private readonly RedisScriptRunner _runner;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly RedisFeatureTelemetry _telemetry;

    public RedisRateLimiter(
        RedisEdgeConnection connection,
        RedisKeyBuilder keys,
        RateLimitingMetrics metrics,
        IOptions<RedisRateLimitingOptions> options,
        ILogger<RedisRateLimiter> logger,
        TimeProvider timeProvider)
    {
        _connection = connection;
        _keys = keys;
        _logger = logger;
        _timeProvider = timeProvider;
        _telemetry = metrics.Telemetry;
        _runner = new RedisScriptRunner(connection, metrics.Telemetry, options.Value.Failure, logger, timeProvider);
    }

    /// <summary>The runner (and so the breaker) of the rate-limit calls; for tests.</summary>
    internal RedisScriptRunner Runner => _runner;

    public RedisKey Key(PolicyDecision decision) =>
        _keys.Key(RedisRateLimitingDefaults.KeyFeature, decision.Tag, decision.Policy.KeySuffix);

    /// <summary>Runs every decision in one script call; returns whether the request may proceed.</summary>
    public async Task<bool> EvaluateAsync(List<PolicyDecision> decisions, string? leaseId, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[decisions.Count];
        var args = new RedisValue[1 + decisions.Count * ArgsPerPolicy];
        args[0] = decisions.Count;
        for (var i = 0; i < decisions.Count; i++)
        {
            var d = decisions[i];
            keys[i] = Key(d);
            var b = 1 + i * ArgsPerPolicy;
            args[b] = d.Policy.AlgorithmCode;
            args[b + 1] = d.Policy.Shadow ? 1 : 0;
            args[b + 2] = d.Limit;
            args[b + 3] = d.Policy.PeriodMs;
            args[b + 4] = d.Cost;
            args[b + 5] = d.P1;
            args[b + 6] = d.Policy.P2;
            args[b + 7] = d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency ? leaseId : RedisValue.EmptyString;
        }

        var result = await _runner.EvaluateAsync(RateLimitScript, keys, args, cancellationToken).ConfigureAwait(false);
        var reply = (RedisResult[])result!;
        var allowed = (long)reply[0] == 1;
        for (var i = 0; i < decisions.Count; i++)
        {
            var d = decisions[i];
            var b = 1 + i * 5;
            var status = (long)reply[b];
            d.Result = status switch
            {
                1 => RedisRateLimitResult.Allowed,
                2 => RedisRateLimitResult.ShadowRejected,
                _ => RedisRateLimitResult.Rejected,
            };
            d.Remaining = (long)reply[b + 1];
            d.ResetMs = (long)reply[b + 2];
            d.RetryMs = (long)reply[b + 3];
            d.DelayMs = (long)reply[b + 4];
        }

        return allowed;
    }

    /// <summary>
    /// Releases the concurrency leases the request holds (a second round trip, only for concurrency policies). It
    /// bypasses the circuit breaker: a release frees a slot whatever state the breaker is in, and its outcome must not
    /// count as the breaker's probe. Bounded by <c>Failure:Timeout</c>; a lease whose release fails expires on its own.
    /// </summary>
    /// <remarks>
    /// The release is queued on the same connection as the call that took the leases, so Redis runs it after that
    /// call even when the caller stopped waiting for it (timeout, aborted request). Releasing leases that were never
    /// taken removes nothing.
    /// </remarks>
    public async Task ReleaseAsync(List<PolicyDecision> leases, string leaseId)
    {
        var started = _timeProvider.GetTimestamp();
        using var activity = _telemetry.ActivitySource.StartActivity("EVALSHA", ActivityKind.Client);
        activity?.SetTag("db.system.name", "redis");
        activity?.SetTag("redisedge.script", ReleaseScript.Name);
        var outcome = "success";
        try
        {
            var keys = new RedisKey[leases.Count];
            var args = new RedisValue[1 + leases.Count];
            args[0] = leaseId;
            for (var i = 0; i < leases.Count; i++)
            {
                keys[i] = Key(leases[i]);
                args[i + 1] = leases[i].Cost.ToString(CultureInfo.InvariantCulture);
            }

            await _connection.Database.ScriptEvaluateAsync(ReleaseScript.Text, keys, args)
                .WaitAsync(_runner.Policy.Timeout, _timeProvider)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The leases expire on their own after LeaseTimeToLive.
            outcome = RedisErrorClassifier.Outcome(ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (_telemetry.ScriptFailures.Enabled)
            {
                _telemetry.ScriptFailures.Add(1, new("redisedge.script", ReleaseScript.Name), new("redisedge.outcome", outcome));
            }

            Log.ReleaseFailed(_logger, ex);
        }
        finally
        {
            activity?.SetTag("redisedge.outcome", outcome);
            if (_telemetry.ScriptDuration.Enabled)
            {
                _telemetry.ScriptDuration.Record(
                    _timeProvider.GetElapsedTime(started).TotalSeconds,
                    new("redisedge.script", ReleaseScript.Name),
                    new("redisedge.outcome", outcome));
            }
        }
    }

    /// <summary>Queues the release now and lets the request go on without waiting for its answer.</summary>
    public void ReleaseInBackground(List<PolicyDecision> leases, string leaseId) => _ = ReleaseAsync(leases, leaseId);
}
