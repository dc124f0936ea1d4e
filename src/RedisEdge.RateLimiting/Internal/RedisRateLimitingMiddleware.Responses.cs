using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>The responses the middleware writes: 429, 403, 503 and the rate-limit fields.</summary>
internal sealed partial class RedisRateLimitingMiddleware
{
    private const string QuotaExceededTitle = "Request cannot be satisfied as assigned quota has been exceeded";

    private async Task RejectAsync(HttpContext context, RateLimitPolicySet set, List<PolicyDecision> decisions, TimeSpan? retryAfter)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        var violated = Violated(decisions);
        if (set.EmitHeaders)
        {
            // RateLimit names the policies that refused, each with t = the time until the request could succeed.
            SetRateLimitHeaders(context, decisions, violated);
        }

        long? retryMs = retryAfter is { } r ? (long)Math.Ceiling(r.TotalMilliseconds) : null;
        if (retryMs is { } ms)
        {
            // Rounded up from the same milliseconds as every t, so Retry-After is never before any of them. The jitter is
            // added in milliseconds before rounding: 0.5 s of jitter moves a client to the next second only as often as it
            // should, not always.
            var jitterMs = set.RetryAfterJitter > TimeSpan.Zero ? (long)(Random.Shared.NextDouble() * set.RetryAfterJitter.TotalMilliseconds) : 0;
            var seconds = RateLimitHeaders.Seconds(ms + jitterMs);

            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.Rejected(_logger, Names(violated), retryMs ?? -1);
        }

        if (set.OnRejected is { } onRejected)
        {
            var publicDecisions = decisions.ConvertAll(d => d.ToPublic());
            await onRejected(new RedisRateLimitRejectedContext(context, publicDecisions, retryAfter), context.RequestAborted).ConfigureAwait(false);
            if (response.HasStarted)
            {
                return;
            }
        }

        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status429TooManyRequests,
            Type = RedisRateLimitingDefaults.QuotaExceededProblemType,
            Title = QuotaExceededTitle,
            Detail = violated.Count == 1 ? violated[0].Policy.ExceededDetail : "Rate limit exceeded: " + Names(violated) + ".",
        };
        problem.Extensions[RedisRateLimitingDefaults.ViolatedPoliciesMember] = violated.ConvertAll(d => d.Policy.Name);
        if (retryMs is { } retry)
        {
            problem.Extensions["retryAfterMs"] = retry;
        }

        await RedisEdgeProblems.WriteAsync(context, problem).ConfigureAwait(false);
    }

    private static Task WriteDeniedAsync(HttpContext context, List<PolicyDecision> denied)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status403Forbidden,
            Title = "Forbidden",
            Detail = "The client is on the deny list of " + Names(denied) + ".",
        };
        problem.Extensions["policies"] = denied.ConvertAll(d => d.Policy.Name);
        return RedisEdgeProblems.WriteAsync(context, problem);
    }

    private async Task OnRedisFailureAsync(HttpContext context, RateLimitPolicySet set, List<PolicyDecision> decisions, Exception exception)
    {
        var closed = decisions.FindAll(d => d.Policy.FailureMode == RedisFailureMode.FailClosed && !d.Policy.Shadow);
        var local = closed.Count == 0 ? decisions.FindAll(d => d.Policy.FailureMode == RedisFailureMode.LocalFallback && !d.Policy.Shadow) : [];
        foreach (var d in decisions)
        {
            if (local.Count == 0 || !local.Contains(d))
            {
                _metrics.Record(d, RedisRateLimitResult.RedisError);
            }
        }

        var mode = closed.Count > 0 ? RedisFailureMode.FailClosed : local.Count > 0 ? RedisFailureMode.LocalFallback : RedisFailureMode.FailOpen;
        _failure.Record(Names(decisions), mode, exception);

        if (local.Count > 0)
        {
            await FallBackLocallyAsync(context, set, local).ConfigureAwait(false);
            return;
        }

        if (closed.Count == 0)
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        var detail = IsConfigurationError(exception)
            ? "Rate limiting is misconfigured for this endpoint: Redis refused the call for " + Names(decisions) +
              " (on Redis Cluster, policies with different partitions need SingleHashSlot). See the application log."
            : "The rate limiter cannot reach its store.";
        await _failure.WriteUnavailableAsync(context, exception, "Service Unavailable", detail, problem =>
            problem.Extensions["policies"] = closed.ConvertAll(d => d.Policy.Name)).ConfigureAwait(false);
    }

    /// <summary>
    /// Redis cannot answer and the request's enforced policies are LocalFallback: decided in this instance's memory at
    /// its share of each limit, answered with the same fields (and the same 429) as Redis' decision would be. Nothing
    /// is written to Redis, so its state is exactly what it was when it answers again.
    /// </summary>
    private async Task FallBackLocallyAsync(HttpContext context, RateLimitPolicySet set, List<PolicyDecision> local)
    {
        if (_fallback.TryAcquire(local, set.InstanceCount) is false)
        {
            long retryMs = 0;
            foreach (var d in local)
            {
                if (d.Result == RedisRateLimitResult.FallbackRejected)
                {
                    _metrics.Record(d, d.Result);
                    retryMs = d.RetryMs < 0 || retryMs < 0 ? -1 : Math.Max(retryMs, d.RetryMs);
                }
            }

            await RejectAsync(context, set, local, retryMs < 0 ? null : TimeSpan.FromMilliseconds(retryMs)).ConfigureAwait(false);
            return;
        }

        foreach (var d in local)
        {
            _metrics.Record(d, d.Result);
        }

        if (set.EmitHeaders)
        {
            SetRateLimitHeaders(context, local, local);
        }

        try
        {
            await _next(context).ConfigureAwait(false);
        }
        finally
        {
            _fallback.Release(local);
        }
    }

    /// <summary>A call the client or the server refused for its shape: a RedisEdge configuration error, not an outage.</summary>
    private static bool IsConfigurationError(Exception exception) =>
        (exception as RedisEdgeUnavailableException)?.InnerException is RedisCommandException or RedisServerException { Kind: RedisErrorKind.CrossSlot };

    private static void SetRateLimitHeaders(HttpContext context, List<PolicyDecision> applied, List<PolicyDecision> current)
    {
        var headers = context.Response.Headers;
        if (RateLimitHeaders.Policy(applied) is { } policy)
        {
            headers[RedisRateLimitingDefaults.RateLimitPolicyHeader] = policy;
        }

        if (RateLimitHeaders.Current(current) is { } state)
        {
            headers[RedisRateLimitingDefaults.RateLimitHeader] = state;
        }
    }

    /// <summary>The decisions that refused the request: usually all of them, and then no second list is made.</summary>
    private static List<PolicyDecision> Violated(List<PolicyDecision> decisions)
    {
        foreach (var d in decisions)
        {
            if (d.Result is not (RedisRateLimitResult.Rejected or RedisRateLimitResult.LocalDeny or RedisRateLimitResult.FallbackRejected))
            {
                return decisions.FindAll(v => v.Result is RedisRateLimitResult.Rejected or RedisRateLimitResult.LocalDeny or RedisRateLimitResult.FallbackRejected);
            }
        }

        return decisions;
    }

    private static string Names(List<PolicyDecision> decisions) =>
        string.Join(", ", decisions.ConvertAll(d => "'" + d.Policy.Name + "'"));
}
