using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
    private readonly IdempotencyMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public RedisIdempotencyMiddleware(
        RequestDelegate next,
        IdempotencyPolicyProvider policies,
        IdempotencyStore store,
        IdempotencyMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisIdempotencyMiddleware> logger)
    {
        _next = next;
        _policies = policies;
        _store = store;
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
        var policy = set.Resolve(attribute);
        if (policy is null)
        {
            Log.UnknownPolicy(_logger, endpoint.DisplayName, attribute.Policy!);
            policy = set.Default.With(attribute);
        }

        return InvokeIdempotentAsync(context, set, policy);
    }

    private async Task InvokeIdempotentAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy)
    {
        var fields = context.Request.Headers[policy.HeaderName];
        if (fields.Count == 0)
        {
            if (!policy.KeyRequired)
            {
                await _next(context).ConfigureAwait(false);
                return;
            }

            await RejectAsync(context, policy, "missing_key", StatusCodes.Status400BadRequest, "Idempotency key missing",
                $"This endpoint requires an '{policy.HeaderName}' request header.").ConfigureAwait(false);
            return;
        }

        string? error = null;
        var key = string.Empty;
        if (fields.Count > 1 || !IdempotencyKeyParser.TryParse(fields[0], out key, out error))
        {
            await RejectAsync(context, policy, "invalid_key", StatusCodes.Status400BadRequest, "Invalid idempotency key",
                error ?? $"The request carries more than one '{policy.HeaderName}' header.").ConfigureAwait(false);
            return;
        }

        if (CallerScope.Resolve(context, policy) is not { } scope)
        {
            await RejectAsync(context, policy, "unidentified_caller", StatusCodes.Status400BadRequest, "Caller not identified",
                policy.Scope == RedisIdempotencyScope.Header
                    ? $"Idempotency keys on this endpoint are scoped by the '{policy.ScopeHeaderName}' header, which the request lacks."
                    : "Idempotency keys on this endpoint are scoped by caller, and the request does not identify one.").ConfigureAwait(false);
            return;
        }

        var fingerprint = await RequestFingerprint.ComputeAsync(context, set.FingerprintHeaders, policy.MaxRequestBodySize, context.RequestAborted).ConfigureAwait(false);
        if (fingerprint is null)
        {
            await RejectAsync(context, policy, "request_too_large", StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"Requests with an idempotency key may carry at most {policy.MaxRequestBodySize} bytes of body on this endpoint.").ConfigureAwait(false);
            return;
        }

        var redisKey = _store.Key(scope, key);
        var owner = IdempotencyStore.NewOwner();
        ClaimResult claim;
        try
        {
            claim = await _store.ClaimAsync(redisKey, fingerprint, owner, policy, context.RequestAborted).ConfigureAwait(false);
            if (claim.Outcome == ClaimOutcome.InFlight && policy.InFlight == RedisIdempotencyInFlightBehavior.Wait)
            {
                claim = await WaitAsync(context, redisKey, fingerprint, owner, policy, claim).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            await OnRedisFailureAsync(context, policy, ex).ConfigureAwait(false);
            return;
        }

        switch (claim.Outcome)
        {
            case ClaimOutcome.Completed:
                IdempotencyMetrics.Add(_metrics.Replays, policy.Name);
                await claim.Response!.WriteAsync(context.Response, set.ReplayHeaders, context.RequestAborted).ConfigureAwait(false);
                return;

            case ClaimOutcome.Mismatch:
                IdempotencyMetrics.Add(_metrics.Mismatches, policy.Name);
                await RedisEdgeProblems.WriteAsync(context, new ProblemDetails
                {
                    Status = StatusCodes.Status422UnprocessableEntity,
                    Title = "Idempotency key reused",
                    Detail = "This idempotency key was already used for a different request (method, path, query, headers or body differ). Use a new key for a new request.",
                }).ConfigureAwait(false);
                return;

            case ClaimOutcome.InFlight:
                IdempotencyMetrics.Add(_metrics.Conflicts, policy.Name);
                var seconds = RedisEdgeProblems.RetryAfterSeconds(TimeSpan.FromMilliseconds(claim.RemainingMs));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await RedisEdgeProblems.WriteAsync(context, new ProblemDetails
                {
                    Status = StatusCodes.Status409Conflict,
                    Title = "Request in progress",
                    Detail = "A request with this idempotency key is still being processed. Retry after the indicated delay to receive its response.",
                }).ConfigureAwait(false);
                return;

            case ClaimOutcome.Takeover:
                IdempotencyMetrics.Add(_metrics.LeaseTakeovers, policy.Name);
                Log.LeaseTakeover(_logger, policy.Name);
                break;
        }

        await ExecuteAsync(context, set, policy, redisKey, owner).ConfigureAwait(false);
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

    private async Task ExecuteAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy, RedisKey key, string owner)
    {
        IdempotencyMetrics.Add(_metrics.Executions, policy.Name);
        var originalBody = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var aborted = context.RequestAborted;
        var capture = new ResponseCaptureStream(originalBody.Stream, policy.MaxBodySize, aborted);
        var shim = new StreamResponseBodyFeature(capture, originalBody);
        context.Features.Set<IHttpResponseBodyFeature>(shim);

        // The client that timed out is the one about to retry: once the key is claimed, the handler runs to completion
        // (a payment that started must not stop half-way because the caller hung up) and its response is stored for
        // that retry. Without this, a result executor would throw on the aborted token after the side effect happened,
        // and the released key would let the retry pay twice.
        context.RequestAborted = CancellationToken.None;
        var renewal = new LeaseRenewal(_store, key, owner, policy, _timeProvider, _logger);
        try
        {
            try
            {
                await _next(context).ConfigureAwait(false);

                // Pushes whatever the endpoint left in the body writer through the capture.
                await shim.CompleteAsync().ConfigureAwait(false);
            }
            finally
            {
                context.RequestAborted = aborted;
                context.Features.Set(originalBody);
                await renewal.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            // The side effect may not have happened: free the key so the retry runs again.
            await ReleaseAsync(key, owner, policy, "exception").ConfigureAwait(false);
            await capture.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        try
        {
            await StoreAsync(context, set, policy, key, owner, capture, renewal.Lost).ConfigureAwait(false);
        }
        finally
        {
            await capture.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stores the response, or releases the key when it must not be replayed. Never cancelled by the client:
    /// the handler has run, and its outcome must reach Redis whether the client waits for it or not.</summary>
    private async Task StoreAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy, RedisKey key, string owner, ResponseCaptureStream capture, bool lost)
    {
        if (lost)
        {
            IdempotencyMetrics.Add(_metrics.LeaseLost, policy.Name);
            Log.LeaseLost(_logger, policy.Name);
            return;
        }

        var status = context.Response.StatusCode;
        if (!policy.Stored.Contains(status))
        {
            await ReleaseAsync(key, owner, policy, "status").ConfigureAwait(false);
            return;
        }

        if (capture.Overflowed)
        {
            await ReleaseAsync(key, owner, policy, "too_large").ConfigureAwait(false);
            return;
        }

        var body = capture.Captured;
        try
        {
            if (await _store.CompleteAsync(key, owner, policy, status, StoredResponse.EncodeHeaders(context.Response.Headers, set.ReplayHeaders), body).ConfigureAwait(false))
            {
                _metrics.RecordStored(policy.Name, body.Length);
            }
            else
            {
                IdempotencyMetrics.Add(_metrics.LeaseLost, policy.Name);
                Log.LeaseLost(_logger, policy.Name);
            }
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            Log.CompleteFailed(_logger, policy.Name, ex);
        }
    }

    private async Task ReleaseAsync(RedisKey key, string owner, IdempotencyPolicy policy, string reason)
    {
        IdempotencyMetrics.Add(_metrics.Releases, policy.Name, reason);
        try
        {
            await _store.ReleaseAsync(key, owner).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            Log.ReleaseFailed(_logger, ex);
        }
    }

    private async Task OnRedisFailureAsync(HttpContext context, IdempotencyPolicy policy, Exception exception)
    {
        var mode = _store.Runner.Policy.Mode;
        IdempotencyMetrics.Add(_metrics.RedisErrors, policy.Name, mode == RedisFailureMode.FailOpen ? "fail_open" : "fail_closed");
        Log.RedisFailed(_logger, policy.Name, mode == RedisFailureMode.FailOpen ? "executed unguarded" : "refused", mode, exception);
        if (mode == RedisFailureMode.FailOpen)
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        var unavailable = exception as RedisEdgeUnavailableException
            ?? new RedisEdgeUnavailableException("Redis could not run the idempotency claim.", exception);
        await RedisEdgeProblems.WriteUnavailableAsync(
            context,
            unavailable,
            "Idempotency store unavailable",
            "The request was not executed: its idempotency key cannot be checked while Redis is unavailable, and running it unguarded could execute it twice. Retry later with the same key.").ConfigureAwait(false);
    }

    private Task RejectAsync(HttpContext context, IdempotencyPolicy policy, string reason, int status, string title, string detail)
    {
        IdempotencyMetrics.Add(_metrics.Rejected, policy.Name, reason);
        return RedisEdgeProblems.WriteAsync(context, new ProblemDetails { Status = status, Title = title, Detail = detail });
    }
}
