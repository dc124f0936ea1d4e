using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Runs an <see cref="IdempotentAttribute"/> endpoint once per (caller, key): one claim call decides whether this
/// request executes, waits, replays or is refused; an execution stores its captured response with one more call.
/// </summary>
internal sealed class RedisIdempotencyMiddleware
{
    private static readonly TimeSpan WaitPollInterval = TimeSpan.FromMilliseconds(100);

    private readonly RequestDelegate _next;
    private readonly IdempotencyPolicyProvider _policies;
    private readonly IdempotencyStore _store;
    private readonly IdempotencyExecutor _executor;
    private readonly IdempotencyMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly RedisEdgeFailureResponder<RedisIdempotencyOptions> _failure;

    public RedisIdempotencyMiddleware(
        RequestDelegate next,
        IdempotencyPolicyProvider policies,
        IdempotencyStore store,
        IdempotencyExecutor executor,
        IdempotencyMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisIdempotencyMiddleware> logger,
        RedisEdgeFailureResponder<RedisIdempotencyOptions> failure)
    {
        _failure = failure;
        _next = next;
        _policies = policies;
        _store = store;
        _executor = executor;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null || endpoint.Metadata.GetMetadata<DisableIdempotencyAttribute>() is not null ||
            endpoint.Metadata.GetMetadata<IdempotentAttribute>() is not { } attribute)
        {
            return _next(context);
        }

        // Safe methods have no side effect to guard.
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method))
        {
            return _next(context);
        }

        var set = _policies.Current;
        return InvokeIdempotentAsync(context, set, _policies.Resolve(endpoint, set) ?? set.Default.With(attribute));
    }

    /// <summary>
    /// One idempotent request: read and check its key, caller and body, claim the key, then answer from the claim
    /// (replay, mismatch, in flight, outcome unknown) or execute.
    /// </summary>
    private async Task InvokeIdempotentAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy)
    {
        var started = _metrics.Requests.Start();
        if (await ReadRequestAsync(context, set, policy, started).ConfigureAwait(false) is not { } request ||
            await ClaimAsync(context, policy, request, started).ConfigureAwait(false) is not { } claim ||
            await AnswerFromClaimAsync(context, set, policy, claim, started).ConfigureAwait(false))
        {
            return;
        }

        _metrics.Requests.Record(policy.Name, "executed", started);
        await _executor.ExecuteAsync(context, _next, set, policy, request.RedisKey, request.Owner, request.Key, request.Scope, claim).ConfigureAwait(false);
    }

    /// <summary>
    /// The request's key, caller scope and fingerprint; <see langword="null"/> when the request was answered here (a 4xx
    /// for a missing or invalid key, an unidentified caller or a body over the limit) or passed on (no key where none is
    /// required).
    /// </summary>
    private async Task<IdempotentRequest?> ReadRequestAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy, long started)
    {
        var fields = context.Request.Headers[policy.HeaderName];
        if (fields.Count == 0)
        {
            if (!policy.KeyRequired)
            {
                _metrics.Requests.Record(policy.Name, "no_key", started);
                await _next(context).ConfigureAwait(false);
                return null;
            }

            await RejectAsync(context, policy, started, "missing_key", StatusCodes.Status400BadRequest, RedisIdempotencyDefaults.KeyMissingProblemType, "Idempotency key missing",
                $"This endpoint requires an '{policy.HeaderName}' request header.").ConfigureAwait(false);
            return null;
        }

        string? error = null;
        var key = string.Empty;
        if (fields.Count > 1 || !IdempotencyKeyParser.TryParse(fields[0], out key, out error))
        {
            await RejectAsync(context, policy, started, "invalid_key", StatusCodes.Status400BadRequest, RedisIdempotencyDefaults.KeyInvalidProblemType, "Invalid idempotency key",
                error ?? $"The request carries more than one '{policy.HeaderName}' header.").ConfigureAwait(false);
            return null;
        }

        if (CallerScope.Resolve(context, policy) is not { } scope)
        {
            await RejectAsync(context, policy, started, "unidentified_caller", StatusCodes.Status400BadRequest, RedisIdempotencyDefaults.CallerUnidentifiedProblemType, "Caller not identified",
                policy.Scope == RedisIdempotencyScope.Header
                    ? $"Idempotency keys on this endpoint are scoped by the '{policy.ScopeHeaderName}' header, which the request lacks."
                    : "Idempotency keys on this endpoint are scoped by caller, and the request does not identify one.").ConfigureAwait(false);
            return null;
        }

        var fingerprint = await RequestFingerprint.ComputeAsync(context, set.FingerprintHeaders, policy.MaxRequestBodySize, context.RequestAborted).ConfigureAwait(false);
        if (fingerprint is null)
        {
            await RejectAsync(context, policy, started, "request_too_large", StatusCodes.Status413PayloadTooLarge, RedisIdempotencyDefaults.RequestTooLargeProblemType, "Request body too large",
                $"Requests with an idempotency key may carry at most {policy.MaxRequestBodySize} bytes of body on this endpoint.").ConfigureAwait(false);
            return null;
        }

        var redisKey = _store.Key(scope, key);
        return new IdempotentRequest(key, scope, fingerprint, redisKey, IdempotencyStore.NewOwner());
    }

    /// <summary>
    /// Claims the key (waiting for an execution in flight when the policy says so); <see langword="null"/> when Redis
    /// could not answer (the failure responder answered) or the client went away.
    /// </summary>
    private async Task<ClaimResult?> ClaimAsync(HttpContext context, IdempotencyPolicy policy, IdempotentRequest request, long started)
    {
        var (redisKey, owner, fingerprint) = (request.RedisKey, request.Owner, request.Fingerprint);
        ClaimResult claim;
        try
        {
            claim = await _store.ClaimAsync(redisKey, fingerprint, owner, policy, context.RequestAborted).ConfigureAwait(false);
            if (claim.Outcome == ClaimOutcome.InFlight && policy.InFlight == RedisIdempotencyInFlightBehavior.Wait)
            {
                claim = await WaitAsync(context, redisKey, fingerprint, owner, policy, claim).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away while the claim was in Redis: it may still land and hold the key for a lease.
            ReleaseAbandonedClaim(redisKey, owner, policy);
            _metrics.Requests.Record(policy.Name, "aborted", started);
            return null;
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            if (WasSent(ex))
            {
                // Timed out (or failed) after it was sent: the claim may still land, and every retry would get 409 for a
                // whole lease while nothing runs.
                ReleaseAbandonedClaim(redisKey, owner, policy);
            }

            await OnRedisFailureAsync(context, policy, ex, started).ConfigureAwait(false);
            return null;
        }

        return claim;
    }

    /// <summary>Answers what the claim decided without an execution; <see langword="false"/> when this request executes.</summary>
    private async Task<bool> AnswerFromClaimAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy, ClaimResult claim, long started)
    {
        switch (claim.Outcome)
        {
            case ClaimOutcome.Completed:
                IdempotencyMetrics.Add(_metrics.Replays, policy.Name);
                _metrics.Requests.Record(policy.Name, "replayed", started);
                await claim.Response!.WriteAsync(context.Response, set.ReplayHeaders, context.RequestAborted).ConfigureAwait(false);
                return true;

            case ClaimOutcome.Mismatch:
                IdempotencyMetrics.Add(_metrics.Mismatches, policy.Name);
                _metrics.Requests.Record(policy.Name, "mismatch", started);
                await RedisEdgeProblems.WriteAsync(context, new ProblemDetails
                {
                    Type = RedisIdempotencyDefaults.KeyReusedProblemType,
                    Status = StatusCodes.Status422UnprocessableEntity,
                    Title = "Idempotency key reused",
                    Detail = "This idempotency key was already used for a different request (method, path, query, headers or body differ). Use a new key for a new request.",
                }).ConfigureAwait(false);
                return true;

            case ClaimOutcome.InFlight:
                IdempotencyMetrics.Add(_metrics.Conflicts, policy.Name);
                _metrics.Requests.Record(policy.Name, "conflict", started);
                var seconds = RedisEdgeProblems.RetryAfterSeconds(TimeSpan.FromMilliseconds(claim.RemainingMs));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await RedisEdgeProblems.WriteAsync(context, new ProblemDetails
                {
                    Type = RedisIdempotencyDefaults.InFlightProblemType,
                    Status = StatusCodes.Status409Conflict,
                    Title = "Request in progress",
                    Detail = "A request with this idempotency key is still being processed. Retry after the indicated delay to receive its response.",
                }).ConfigureAwait(false);
                return true;

            case ClaimOutcome.OutcomeUnknown:
                IdempotencyMetrics.Add(_metrics.OutcomeUnknown, policy.Name, "answered");
                _metrics.Requests.Record(policy.Name, "outcome_unknown", started);
                await RedisEdgeProblems.WriteAsync(context, new ProblemDetails
                {
                    Type = RedisIdempotencyDefaults.OutcomeUnknownProblemType,
                    Status = StatusCodes.Status409Conflict,
                    Title = "Idempotency outcome unknown",
                    Detail = "A request with this idempotency key was executed, but its outcome could not be recorded. It is not executed again under this key; check whether it took effect before sending it with a new key.",
                }).ConfigureAwait(false);
                return true;

            case ClaimOutcome.Takeover:
                IdempotencyMetrics.Add(_metrics.LeaseTakeovers, policy.Name);
                Log.LeaseTakeover(_logger, policy.Name);
                break;
        }

        return false;
    }

    /// <summary>The bounded wait: polls the claim until the first execution completes (replay), frees the key
    /// (this request executes) or the wait times out (409).</summary>
    private async Task<ClaimResult> WaitAsync(HttpContext context, RedisKey key, string fingerprint, string owner, IdempotencyPolicy policy, ClaimResult claim)
    {
        var started = _timeProvider.GetTimestamp();
        while (claim.Outcome == ClaimOutcome.InFlight)
        {
            var left = policy.WaitTimeout - _timeProvider.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                break;
            }

            var delay = TimeSpan.FromMilliseconds(Math.Min(Math.Min(claim.RemainingMs, WaitPollInterval.TotalMilliseconds), left.TotalMilliseconds));
            await Task.Delay(delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : delay, _timeProvider, context.RequestAborted).ConfigureAwait(false);
            claim = await _store.ClaimAsync(key, fingerprint, owner, policy, context.RequestAborted).ConfigureAwait(false);
        }

        return claim;
    }

    /// <summary>
    /// Releases a claim this request sent but will not act on. The release is owner-guarded and queued behind the claim
    /// on the same connection, so it runs after the claim's late reply: it frees the key when the claim landed (new or
    /// takeover, held by this request's owner token), and changes nothing when it did not (in flight for another
    /// execution, completed, or never run). Sent through <see cref="RedisScriptRunner.SettleAsync"/>, once, without
    /// waiting: if it fails too, the key frees itself with the lease.
    /// </summary>
    private void ReleaseAbandonedClaim(RedisKey key, string owner, IdempotencyPolicy policy)
    {
        IdempotencyMetrics.Add(_metrics.Releases, policy.Name, "claim_failed");
        _ = ReleaseAsync(_store, key, owner, _logger);

        static async Task ReleaseAsync(IdempotencyStore store, RedisKey key, string owner, ILogger logger)
        {
            try
            {
                await store.ReleaseAsync(key, owner).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException or ObjectDisposedException)
            {
                Log.ReleaseFailed(logger, ex);
            }
        }
    }

    /// <summary>
    /// Whether a failed claim may have run (or may yet run) in Redis: not when the breaker or the client refused it, nor
    /// when Redis refused its key (CROSSSLOT).
    /// </summary>
    private static bool WasSent(Exception exception) => exception switch
    {
        RedisEdgeUnavailableException { InnerException: null } => false,
        RedisEdgeUnavailableException { InnerException: RedisCommandException or RedisServerException { Kind: RedisErrorKind.CrossSlot } } => false,
        _ => true,
    };

    /// <summary>
    /// Counts the request in the requests counter (<c>fail_open</c> or <c>store_unavailable</c>, by the mode the failure
    /// responder applies) and lets Core's failure responder count it in <c>redisedge.failure_mode.requests</c>, log it
    /// and answer.
    /// </summary>
    private Task OnRedisFailureAsync(HttpContext context, IdempotencyPolicy policy, Exception exception, long started)
    {
        var mode = _failure.Mode;
        IdempotencyMetrics.Add(_metrics.RedisErrors, policy.Name, mode == RedisFailureMode.FailOpen ? "fail_open" : "fail_closed");
        _metrics.Requests.Record(policy.Name, mode == RedisFailureMode.FailOpen ? "fail_open" : "store_unavailable", started);
        return _failure.RespondAsync(
            context,
            policy.Name,
            exception,
            () => _next(context),
            "Idempotency store unavailable",
            "The request was not executed: its idempotency key cannot be checked while Redis is unavailable, and running it unguarded could execute it twice. Retry later with the same key.",
            problem => problem.Type = RedisIdempotencyDefaults.StoreUnavailableProblemType);
    }

    private Task RejectAsync(HttpContext context, IdempotencyPolicy policy, long started, string reason, int status, string type, string title, string detail)
    {
        IdempotencyMetrics.Add(_metrics.Rejected, policy.Name, reason);
        _metrics.Requests.Record(policy.Name, "rejected", started);
        return RedisEdgeProblems.WriteAsync(context, new ProblemDetails { Type = type, Status = status, Title = title, Detail = detail });
    }
}
