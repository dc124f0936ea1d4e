using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Applies the endpoint's rate-limit policies (and the global one): local deny cache, then one Redis script call for
/// all of them, then the response headers and either the next middleware or a 429.
/// </summary>
internal sealed class RedisRateLimitingMiddleware
{
    private const string ProblemType = "https://www.rfc-editor.org/rfc/rfc6585#section-4";

    private readonly RequestDelegate _next;
    private readonly RateLimitPolicyProvider _policies;
    private readonly RedisRateLimiter _limiter;
    private readonly LocalDenyCache _denyCache;
    private readonly RateLimitingMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly int _denyCacheSize;

    public RedisRateLimitingMiddleware(
        RequestDelegate next,
        RateLimitPolicyProvider policies,
        RedisRateLimiter limiter,
        LocalDenyCache denyCache,
        RateLimitingMetrics metrics,
        TimeProvider timeProvider,
        Microsoft.Extensions.Options.IOptions<RedisRateLimitingOptions> options,
        ILogger<RedisRateLimitingMiddleware> logger)
    {
        _next = next;
        _policies = policies;
        _limiter = limiter;
        _denyCache = denyCache;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        _denyCacheSize = options.Value.LocalDenyCacheSize;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var set = _policies.Current;
        if (endpoint?.Metadata.GetMetadata<DisableRateLimitAttribute>() is not null)
        {
            return _next(context);
        }

        var attributes = endpoint?.Metadata.GetOrderedMetadata<RateLimitAttribute>() ?? [];
        if (attributes.Count == 0 && set.Global is null)
        {
            return _next(context);
        }

        return InvokeLimitedAsync(context, set, attributes);
    }

    private async Task InvokeLimitedAsync(HttpContext context, RateLimitPolicySet set, IReadOnlyList<RateLimitAttribute> attributes)
    {
        var decisions = new List<PolicyDecision>(attributes.Count + 1);
        List<PolicyDecision>? denied = null;
        if (set.Global is { } global)
        {
            Add(context, set, global, cost: 1, decisions, ref denied);
        }

        foreach (var attribute in attributes)
        {
            if (!set.Policies.TryGetValue(attribute.PolicyName, out var policy))
            {
                Log.UnknownPolicy(_logger, context.GetEndpoint()?.DisplayName, attribute.PolicyName);
                continue;
            }

            if (!decisions.Exists(d => ReferenceEquals(d.Policy, policy)) && denied?.Exists(d => ReferenceEquals(d.Policy, policy)) != true)
            {
                Add(context, set, policy, attribute.Cost, decisions, ref denied);
            }
        }

        if (denied is not null)
        {
            foreach (var d in denied)
            {
                _metrics.Record(d.Policy.Name, RedisRateLimitResult.Denied);
            }

            await WriteProblemAsync(context, StatusCodes.Status403Forbidden, "Forbidden", "The client is on the deny list of " + Names(denied) + ".", denied, null).ConfigureAwait(false);
            return;
        }

        if (decisions.Count == 0)
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        if (set.LocalDenyCache && TryLocalDeny(decisions, out var localRetry))
        {
            await RejectAsync(context, set, decisions, localRetry).ConfigureAwait(false);
            return;
        }

        var leaseId = decisions.Exists(d => d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency) ? Guid.NewGuid().ToString("N") : null;
        var started = _timeProvider.GetTimestamp();
        bool allowed;
        try
        {
            allowed = await _limiter.EvaluateAsync(decisions, leaseId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            await OnRedisFailureAsync(context, decisions, ex).ConfigureAwait(false);
            return;
        }

        if (set.EmitHeaders)
        {
            SetRateLimitHeaders(context, decisions);
        }

        if (!allowed)
        {
            long retryMs = 0;
            foreach (var d in decisions)
            {
                if (d.Result == RedisRateLimitResult.Rejected)
                {
                    retryMs = d.RetryMs < 0 || retryMs < 0 ? -1 : Math.Max(retryMs, d.RetryMs);
                    if (set.LocalDenyCache && d.RetryMs > 0 && d.Policy.Algorithm != RedisRateLimitAlgorithm.Concurrency)
                    {
                        _denyCache.Add(d.Policy.Name, d.Tag, d.Cost, started, TimeSpan.FromMilliseconds(d.RetryMs), _denyCacheSize);
                    }
                }

                if (d.Result != RedisRateLimitResult.Allowed)
                {
                    // A policy that would have accepted consumed nothing and decided nothing: it is not counted.
                    _metrics.Record(d.Policy.Name, d.Result);
                }
            }

            await RejectAsync(context, set, decisions, retryMs < 0 ? null : TimeSpan.FromMilliseconds(retryMs)).ConfigureAwait(false);
            return;
        }

        long delayMs = 0;
        List<PolicyDecision>? leases = null;
        foreach (var d in decisions)
        {
            _metrics.Record(d.Policy.Name, d.Result);
            if (d.Result == RedisRateLimitResult.Allowed && d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency)
            {
                (leases ??= []).Add(d);
            }

            if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Gcra && d.Policy.P2 > 0 && d.Result == RedisRateLimitResult.Allowed)
            {
                _metrics.RecordQueueDelay(d.Policy.Name, TimeSpan.FromMilliseconds(d.DelayMs));
                delayMs = Math.Max(delayMs, d.DelayMs);
            }
        }

        try
        {
            if (delayMs > 0)
            {
                // The slot is reserved in Redis; waiting here is what makes the queue a queue.
                await Task.Delay(TimeSpan.FromMilliseconds(delayMs), _timeProvider, context.RequestAborted).ConfigureAwait(false);
            }

            await _next(context).ConfigureAwait(false);
        }
        finally
        {
            if (leases is not null)
            {
                await _limiter.ReleaseAsync(leases, leaseId!).ConfigureAwait(false);
            }
        }
    }

    private static void Add(HttpContext context, RateLimitPolicySet set, RateLimitPolicy policy, int cost, List<PolicyDecision> decisions, ref List<PolicyDecision>? denied)
    {
        var value = PartitionResolver.Resolve(policy, context);
        if (value is not null && policy.Allow.Count > 0 && policy.Allow.Contains(value))
        {
            return;
        }

        var (limit, p1) = policy.For(value);
        var decision = new PolicyDecision(policy, value, PartitionResolver.Tag(policy, value, set.SingleHashSlot), limit, p1, cost);
        if (value is not null && policy.Deny.Count > 0 && policy.Deny.Contains(value) && !policy.Shadow)
        {
            decision.Result = RedisRateLimitResult.Denied;
            (denied ??= []).Add(decision);
            return;
        }

        decisions.Add(decision);
    }

    private bool TryLocalDeny(List<PolicyDecision> decisions, out TimeSpan? retryAfter)
    {
        retryAfter = null;
        var hit = false;
        foreach (var d in decisions)
        {
            if (!d.Policy.Shadow && d.Policy.Algorithm != RedisRateLimitAlgorithm.Concurrency &&
                _denyCache.TryGet(d.Policy.Name, d.Tag, d.Cost, out var left))
            {
                hit = true;
                d.Result = RedisRateLimitResult.LocalDeny;
                d.Remaining = 0;
                d.RetryMs = (long)Math.Ceiling(left.TotalMilliseconds);
                d.ResetMs = d.RetryMs;
                retryAfter = retryAfter is { } r && r > left ? r : left;
            }
        }

        if (!hit)
        {
            return false;
        }

        // Only the remembered policies are reported: nothing is known about the others without asking Redis.
        decisions.RemoveAll(d => d.Result != RedisRateLimitResult.LocalDeny);
        foreach (var d in decisions)
        {
            _metrics.Record(d.Policy.Name, RedisRateLimitResult.LocalDeny);
        }

        return true;
    }

    private async Task RejectAsync(HttpContext context, RateLimitPolicySet set, List<PolicyDecision> decisions, TimeSpan? retryAfter)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        if (set.EmitHeaders)
        {
            SetRateLimitHeaders(context, decisions);
        }

        if (retryAfter is { } retry)
        {
            var seconds = RateLimitHeaders.Seconds((long)Math.Ceiling(retry.TotalMilliseconds));
            if (set.RetryAfterJitter > TimeSpan.Zero)
            {
                seconds += (long)Math.Ceiling(Random.Shared.NextDouble() * set.RetryAfterJitter.TotalSeconds);
            }

            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var violated = decisions.FindAll(d => d.Result is RedisRateLimitResult.Rejected or RedisRateLimitResult.LocalDeny);
        Log.Rejected(_logger, Names(violated), retryAfter is { } r ? (long)Math.Ceiling(r.TotalMilliseconds) : -1);
        if (set.OnRejected is { } onRejected)
        {
            var publicDecisions = decisions.ConvertAll(d => d.ToPublic());
            await onRejected(new RedisRateLimitRejectedContext(context, publicDecisions, retryAfter), context.RequestAborted).ConfigureAwait(false);
            if (response.HasStarted)
            {
                return;
            }
        }

        await WriteProblemAsync(context, StatusCodes.Status429TooManyRequests, "Too Many Requests", "Rate limit exceeded: " + Names(violated) + ".", violated, retryAfter).ConfigureAwait(false);
    }

    private async Task OnRedisFailureAsync(HttpContext context, List<PolicyDecision> decisions, Exception exception)
    {
        var closed = decisions.Exists(d => d.Policy.FailureMode == RedisFailureMode.FailClosed && !d.Policy.Shadow);
        foreach (var d in decisions)
        {
            _metrics.Record(d.Policy.Name, RedisRateLimitResult.RedisError);
        }

        Log.RedisFailed(_logger, Names(decisions), closed ? "refused" : "allowed", closed ? "FailClosed" : "FailOpen", exception);
        if (closed)
        {
            await WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "Service Unavailable", "The rate limiter cannot reach its store.", decisions.FindAll(d => d.Policy.FailureMode == RedisFailureMode.FailClosed), null).ConfigureAwait(false);
            return;
        }

        await _next(context).ConfigureAwait(false);
    }

    private static void SetRateLimitHeaders(HttpContext context, List<PolicyDecision> decisions)
    {
        var headers = context.Response.Headers;
        headers[RedisRateLimitingDefaults.RateLimitPolicyHeader] = RateLimitHeaders.Policy(decisions);
        headers[RedisRateLimitingDefaults.RateLimitHeader] = RateLimitHeaders.Current(decisions);
    }

    private static Task WriteProblemAsync(HttpContext context, int status, string title, string detail, List<PolicyDecision> policies, TimeSpan? retryAfter)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Type = status == StatusCodes.Status429TooManyRequests ? ProblemType : null,
        };
        problem.Extensions["policies"] = policies.ConvertAll(d => d.Policy.Name);
        if (retryAfter is { } retry)
        {
            problem.Extensions["retryAfterMs"] = (long)Math.Ceiling(retry.TotalMilliseconds);
        }

        context.Response.StatusCode = status;

        // Goes through the app's IProblemDetailsService when one is registered, and writes plain problem+json otherwise.
        return TypedResults.Problem(problem).ExecuteAsync(context);
    }

    private static string Names(List<PolicyDecision> decisions) =>
        string.Join(", ", decisions.ConvertAll(d => "'" + d.Policy.Name + "'"));
}
