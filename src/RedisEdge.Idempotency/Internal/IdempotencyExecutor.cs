using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Runs the handler of a request that holds the claim: captures its response while it streams to the caller, renews the
/// lease while it runs, then settles its outcome: stores the response, or releases the key so the retry executes.
/// </summary>
/// <remarks>
/// Settlement records work that already happened, so it is never refused by the circuit breaker (it goes through
/// <see cref="RedisScriptRunner.SettleAsync"/>) and is retried for up to one <see cref="IdempotencyPolicy.Lease"/>
/// while the lease is still renewed: the first attempt inline, the retries in the background once the caller has its
/// response. A response that still cannot be stored marks the key "outcome unknown" rather than letting it become
/// runnable again; only when that marker cannot be written either does the key run out with its lease.
/// </remarks>
internal sealed class IdempotencyExecutor(IdempotencyStore store, IdempotencyMetrics metrics, TimeProvider timeProvider, ILogger<IdempotencyExecutor> logger)
{
    private const int MarkerAttempts = 3;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private readonly IdempotencyStore _store = store;
    private readonly IdempotencyMetrics _metrics = metrics;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;

    public async Task ExecuteAsync(HttpContext context, RequestDelegate next, IdempotencyPolicySet set, IdempotencyPolicy policy, RedisKey key, string owner, string idempotencyKey, string scope, ClaimResult claim)
    {
        IdempotencyMetrics.Add(_metrics.Executions, policy.Name);
        var originalBody = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var aborted = context.RequestAborted;
        var capture = new ResponseCaptureStream(originalBody.Stream, context.Response, policy.Stored, policy.MaximumBodySize, aborted);
        var shim = new StreamResponseBodyFeature(capture, originalBody);
        context.Features.Set<IHttpResponseBodyFeature>(shim);

        // The client that timed out is the one about to retry: once the key is claimed, the handler runs to completion
        // (a payment that started must not stop half-way because the caller hung up) and its response is stored for
        // that retry. Without this, a result executor would throw on the aborted token after the side effect happened,
        // and the released key would let the retry pay twice.
        context.RequestAborted = CancellationToken.None;

        // The renewal runs until the outcome is settled, not only while the handler runs: a settlement retried against
        // a slow Redis must not lose the key to a retry meanwhile.
        var renewal = new LeaseRenewal(_store, key, owner, policy, _timeProvider, _logger);
        Func<Task>? unsettled = null;
        try
        {
            try
            {
                try
                {
                    context.Features.Set<IIdempotencyFeature>(new IdempotencyFeature(
                        idempotencyKey, scope, claim.Outcome == ClaimOutcome.Takeover, owner, claim.FencingToken, renewal.LeaseLost));
                    await next(context).ConfigureAwait(false);

                    // Pushes whatever the endpoint left in the body writer through the capture.
                    await shim.CompleteAsync().ConfigureAwait(false);
                }
                finally
                {
                    context.RequestAborted = aborted;
                    context.Features.Set(originalBody);
                    context.Features.Set<IIdempotencyFeature>(null);
                }
            }
            catch
            {
                // The side effect may not have happened: free the key so the retry runs again.
                unsettled = await ReleaseAsync(key, owner, policy, renewal, "exception").ConfigureAwait(false);
                throw;
            }

            unsettled = await StoreAsync(context, set, policy, key, owner, capture, renewal).ConfigureAwait(false);
        }
        finally
        {
            if (unsettled is null)
            {
                await renewal.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                // The first attempt failed: the caller gets its response now, and the settlement goes on in the
                // background, with the renewal, for the rest of its budget.
                _ = Task.Run(() => SettleInBackgroundAsync(unsettled, renewal, policy));
            }

            await capture.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stores the response, or releases the key when it must not be replayed. Never cancelled by the client: the
    /// handler has run, and its outcome must reach Redis whether the client waits for it or not. Makes one attempt;
    /// returns the rest of the settlement when that attempt could not reach Redis, <see langword="null"/> when settled.
    /// </summary>
    private async Task<Func<Task>?> StoreAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy, RedisKey key, string owner, ResponseCaptureStream capture, LeaseRenewal renewal)
    {
        if (renewal.Lost)
        {
            OnLeaseLost(policy);
            return null;
        }

        var status = context.Response.StatusCode;
        if (!policy.Stored.Contains(status))
        {
            return await ReleaseAsync(key, owner, policy, renewal, "status").ConfigureAwait(false);
        }

        if (capture.Overflowed)
        {
            return await ReleaseAsync(key, owner, policy, renewal, "too_large").ConfigureAwait(false);
        }

        var body = capture.Captured;
        var headers = StoredResponse.EncodeHeaders(context.Response.Headers, set.ReplayHeaders);
        var (done, stored) = await AttemptAsync(() => _store.CompleteAsync(key, owner, policy, status, headers, body), policy).ConfigureAwait(false);
        if (done)
        {
            // Redis answered the call that carried the pooled buffer: it may go back to the pool. A call that failed or
            // timed out may still hold it, so the capture then leaves it to the garbage collector.
            capture.MarkSent();
            await OnCompletedAsync(stored, policy, key, owner, body.Length, renewal).ConfigureAwait(false);
            return null;
        }

        // The capture is returned when the request ends; the retries keep their own copy.
        var started = _timeProvider.GetTimestamp();
        var copy = body.ToArray();
        return async () =>
        {
            var retried = await RetryAsync(() => _store.CompleteAsync(key, owner, policy, status, headers, copy), policy, renewal, started).ConfigureAwait(false);
            await OnCompletedAsync(retried, policy, key, owner, copy.Length, renewal).ConfigureAwait(false);
        };
    }

    /// <summary>Records the answer of complete.lua: stored, lost to another execution, or never stored (<see langword="null"/>):
    /// the handler ran and its response cannot be stored, so the key must not become runnable again.</summary>
    private async Task OnCompletedAsync(bool? stored, IdempotencyPolicy policy, RedisKey key, string owner, int bodyLength, LeaseRenewal renewal)
    {
        switch (stored)
        {
            case true:
                _metrics.RecordStored(policy.Name, bodyLength);
                return;

            case false:
                OnLeaseLost(policy);
                return;
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (await _store.MarkOutcomeUnknownAsync(key, owner, policy).ConfigureAwait(false))
                {
                    IdempotencyMetrics.Add(_metrics.OutcomeUnknown, policy.Name, "marked");
                    Log.OutcomeUnknown(_logger, policy.Name, key.ToString());
                }
                else
                {
                    OnLeaseLost(policy);
                }

                return;
            }
            catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
            {
                if (attempt == MarkerAttempts || renewal.Lost)
                {
                    Log.CompleteFailed(_logger, policy.Name, key.ToString(), ex);
                    return;
                }
            }

            await Task.Delay(FirstRetryDelay * attempt, _timeProvider).ConfigureAwait(false);
        }
    }

    private async Task<Func<Task>?> ReleaseAsync(RedisKey key, string owner, IdempotencyPolicy policy, LeaseRenewal renewal, string reason)
    {
        IdempotencyMetrics.Add(_metrics.Releases, policy.Name, reason);
        var (done, _) = await AttemptAsync(() => _store.ReleaseAsync(key, owner), policy).ConfigureAwait(false);
        if (done)
        {
            return null;
        }

        // A release that never reaches Redis leaves the key to run out with its lease once the renewal stops, after
        // which the retry runs: what a release does, only later.
        var started = _timeProvider.GetTimestamp();
        return () => RetryAsync(() => _store.ReleaseAsync(key, owner), policy, renewal, started);
    }

    private async Task SettleInBackgroundAsync(Func<Task> settle, LeaseRenewal renewal, IdempotencyPolicy policy)
    {
        try
        {
            await settle().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Nothing awaits this task: an unexpected failure (the app shutting down under it) is logged, not thrown.
            Log.SettleFailed(_logger, policy.Name, ex);
        }
        finally
        {
            await renewal.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One settlement call: done with its answer; done without one (<see langword="null"/>) when the script
    /// failed; not done when Redis could not answer (timeout, connection lost, out of memory, ...), so it may be retried.</summary>
    private async Task<(bool Done, bool? Result)> AttemptAsync(Func<Task<bool>> call, IdempotencyPolicy policy)
    {
        try
        {
            return (true, await call().ConfigureAwait(false));
        }
        catch (RedisServerException ex) when (RedisErrorClassifier.Classify(ex) == RedisFailureKind.ScriptError)
        {
            Log.SettleFailed(_logger, policy.Name, ex);
            return (true, null);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            Log.SettleFailed(_logger, policy.Name, ex);
            return (false, null);
        }
    }

    /// <summary>
    /// Sends a settlement call again after an outage, with a growing delay, for up to one lease from
    /// <paramref name="started"/> while the renewal keeps the key: its answer, <see langword="false"/> when the claim
    /// turned out lost, or <see langword="null"/> when Redis never answered within the budget. Retrying is safe: every
    /// settlement script is owner-guarded and idempotent, and an attempt that timed out on the client but ran is seen
    /// by the next one.
    /// </summary>
    private async Task<bool?> RetryAsync(Func<Task<bool>> call, IdempotencyPolicy policy, LeaseRenewal renewal, long started)
    {
        var delay = FirstRetryDelay;
        while (true)
        {
            if (renewal.Lost)
            {
                return false;
            }

            if (_timeProvider.GetElapsedTime(started) + delay >= policy.Lease)
            {
                return null;
            }

            await Task.Delay(delay, _timeProvider).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            var (done, result) = await AttemptAsync(call, policy).ConfigureAwait(false);
            if (done)
            {
                return result;
            }
        }
    }

    private void OnLeaseLost(IdempotencyPolicy policy)
    {
        IdempotencyMetrics.Add(_metrics.LeaseLost, policy.Name);
        Log.LeaseLost(_logger, policy.Name);
    }
}
