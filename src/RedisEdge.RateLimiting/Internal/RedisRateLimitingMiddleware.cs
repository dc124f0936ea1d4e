using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Applies the endpoint's rate-limit policies (and the global one): local deny cache, then one Redis script call for
/// all of them (one per hash slot when they span Redis Cluster slots), then the response headers and either the next
/// middleware or a 429.
/// </summary>
internal sealed partial class RedisRateLimitingMiddleware
{
    private readonly RequestDelegate _next;
    private readonly RateLimitPolicyProvider _policies;
    private readonly RedisRateLimiter _limiter;
    private readonly LocalDenyCache _denyCache;
    private readonly RateLimitingMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly LocalFallbackLimiter _fallback;
    private readonly RedisEdgeFailureResponder<RedisRateLimitingOptions> _failure;
    private readonly LocalDenyRule _denyRule;

    public RedisRateLimitingMiddleware(
        RequestDelegate next,
        RateLimitPolicyProvider policies,
        RedisRateLimiter limiter,
        LocalDenyCache denyCache,
        RateLimitingMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisRateLimitingMiddleware> logger,
        LocalFallbackLimiter fallback,
        RedisEdgeFailureResponder<RedisRateLimitingOptions> failure,
        LocalDenyRule denyRule)
    {
        _failure = failure;
        _denyRule = denyRule;
        _next = next;
        _policies = policies;
        _limiter = limiter;
        _denyCache = denyCache;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        _fallback = fallback;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var set = _policies.Current;
        var requested = Requested(context.GetEndpoint(), set);
        return requested.Length == 0 ? _next(context) : InvokeLimitedAsync(context, set, requested);
    }

    /// <summary>What an endpoint asks for under <paramref name="set"/>: read from its metadata once, then kept.</summary>
    private (RateLimitPolicy Policy, int Cost)[] Requested(Endpoint? endpoint, RateLimitPolicySet set) =>
        endpoint is null ? set.WithoutEndpoint : _policies.Resolve(endpoint, set)!;

    /// <summary>
    /// The decisions of the request, then the answer that needs no Redis (deny list, local deny cache) or the call.
    /// Not async itself: a request answered here (locally denied, say) allocates no state machine.
    /// </summary>
    private Task InvokeLimitedAsync(HttpContext context, RateLimitPolicySet set, (RateLimitPolicy Policy, int Cost)[] requested)
    {
        var decisions = new List<PolicyDecision>(requested.Length);
        List<PolicyDecision>? denied = null;
        var started = _metrics.Requests.Start();
        foreach (var (policy, cost) in requested)
        {
            Add(context, set, policy, cost, started, decisions, ref denied);
        }

        if (denied is not null)
        {
            foreach (var d in denied)
            {
                _metrics.Record(d, RedisRateLimitResult.Denied);
            }

            return WriteDeniedAsync(context, denied);
        }

        if (decisions.Count == 0)
        {
            return _next(context);
        }

        if (set.LocalDenyCache && TryLocalDeny(set, decisions, out var localRetry))
        {
            return RejectAsync(context, set, decisions, localRetry);
        }

        return DecideAsync(context, set, decisions);
    }

    private async Task DecideAsync(HttpContext context, RateLimitPolicySet set, List<PolicyDecision> decisions)
    {
        // A per-request token names what the request takes where it may have to be given back: concurrency leases, and
        // the permits of a request a GCRA queue makes wait (its client may give up meanwhile).
        var leaseId = decisions.Exists(NeedsToken) ? Guid.NewGuid().ToString("N") : null;
        var started = _timeProvider.GetTimestamp();
        bool allowed;
        try
        {
            allowed = await _limiter.EvaluateAsync(decisions, leaseId, set.CoalesceHotPartitions, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away, but the call was sent: Redis may still take the leases.
            ReleaseAbandoned(decisions, leaseId);
            return;
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            if (WasSent(ex))
            {
                // Timed out or failed after sending: the script may still run (or have run) and take the leases.
                ReleaseAbandoned(decisions, leaseId);
            }

            await OnRedisFailureAsync(context, set, decisions, ex).ConfigureAwait(false);
            return;
        }

        // Redis answers: whatever an outage left in memory no longer decides anything.
        _fallback.Reset();
        if (!allowed)
        {
            await RejectAsync(context, set, decisions, Rejected(set, decisions, started)).ConfigureAwait(false);
            return;
        }

        var (leases, delayMs) = Accepted(context, set, decisions);
        try
        {
            if (delayMs > 0 && !await WaitForSlotAsync(context, decisions, leaseId!, delayMs).ConfigureAwait(false))
            {
                return;
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

    /// <summary>
    /// Waits for the slot a GCRA queue reserved in Redis (waiting is what makes the queue a queue). A client that gives
    /// up meanwhile ran nothing, so every permit its request took, the queue slot first, is given back to the requests
    /// behind it; returns <see langword="false"/> then.
    /// </summary>
    private async Task<bool> WaitForSlotAsync(HttpContext context, List<PolicyDecision> decisions, string token, long delayMs)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(delayMs), _timeProvider, context.RequestAborted).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            await _limiter.RefundAbandonedAsync(decisions, token).ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>Whether a policy's permits are named by a per-request token (see <see cref="DecideAsync"/>).</summary>
    private static bool NeedsToken(PolicyDecision d) =>
        d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency ||
        (d.Policy.Algorithm == RedisRateLimitAlgorithm.Gcra && d.Policy.P2 > 0 && !d.Policy.Shadow);

    /// <summary>Redis rejected the request: remembers the rejections locally, counts them; returns the Retry-After.</summary>
    private TimeSpan? Rejected(RateLimitPolicySet set, List<PolicyDecision> decisions, long started)
    {
        long retryMs = 0;
        foreach (var d in decisions)
        {
            if (d.Result == RedisRateLimitResult.Rejected)
            {
                retryMs = d.RetryMs < 0 || retryMs < 0 ? -1 : Math.Max(retryMs, d.RetryMs);
                if (_denyRule.MayRemember(set, d))
                {
                    _denyCache.Add(d.Policy.Name, d.Tag, d.Cost, set.Generation, started, TimeSpan.FromMilliseconds(d.RetryMs), set.LocalDenyCacheSize);
                }
            }

            if (d.Result != RedisRateLimitResult.Allowed)
            {
                // A policy that would have accepted consumed nothing and decided nothing: it is not counted.
                _metrics.Record(d, d.Result);
            }
        }

        return retryMs < 0 ? null : TimeSpan.FromMilliseconds(retryMs);
    }

    /// <summary>Redis accepted the request: headers, metrics; returns the leases to release and the queue delay.</summary>
    private (List<PolicyDecision>? Leases, long DelayMs) Accepted(HttpContext context, RateLimitPolicySet set, List<PolicyDecision> decisions)
    {
        if (set.EmitHeaders)
        {
            SetRateLimitHeaders(context, decisions, decisions);
        }

        long delayMs = 0;
        List<PolicyDecision>? leases = null;
        foreach (var d in decisions)
        {
            _metrics.Record(d, d.Result);
            if (d.Result == RedisRateLimitResult.Allowed && d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency)
            {
                (leases ??= []).Add(d);
            }

            // A shadow queue only measures: its request never waits (nor is it rejected), whatever delay it computed.
            if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Gcra && d.Policy.P2 > 0 && d.Result == RedisRateLimitResult.Allowed && !d.Policy.Shadow)
            {
                _metrics.RecordQueueDelay(d.Policy.Name, TimeSpan.FromMilliseconds(d.DelayMs));
                delayMs = Math.Max(delayMs, d.DelayMs);
            }
        }

        return (leases, delayMs);
    }

    private static void Add(HttpContext context, RateLimitPolicySet set, RateLimitPolicy policy, int cost, long started, List<PolicyDecision> decisions, ref List<PolicyDecision>? denied)
    {
        var (value, identityKind, identity) = PartitionResolver.Resolve(policy, context);
        if (value is not null && policy.Allow.Count > 0 && policy.Allow.Contains(value))
        {
            return;
        }

        var (limit, p1) = policy.For(value);
        var decision = new PolicyDecision(policy, value, PartitionResolver.Tag(policy, identityKind, identity), limit, p1, cost) { Started = started };
        if (value is not null && policy.Deny.Count > 0 && policy.Deny.Contains(value) && !policy.Shadow)
        {
            decision.Result = RedisRateLimitResult.Denied;
            (denied ??= []).Add(decision);
            return;
        }

        decisions.Add(decision);
    }

    private bool TryLocalDeny(RateLimitPolicySet set, List<PolicyDecision> decisions, out TimeSpan? retryAfter)
    {
        retryAfter = null;
        var hit = false;
        foreach (var d in decisions)
        {
            if (LocalDenyRule.MayAnswer(set, d.Policy) &&
                _denyCache.TryGet(d.Policy.Name, d.Tag, d.Cost, set.Generation, out var left))
            {
                hit = true;
                d.Result = RedisRateLimitResult.LocalDeny;
                d.Remaining = 0;

                // The same t and Retry-After Redis would answer for this state: the time until the request could succeed.
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
            _metrics.Record(d, RedisRateLimitResult.LocalDeny);
        }

        return true;
    }

    /// <summary>Releases, without waiting, the leases a call that may still run in Redis could have taken.</summary>
    private void ReleaseAbandoned(List<PolicyDecision> decisions, string? leaseId)
    {
        if (leaseId is not null && decisions.FindAll(d => d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency) is { Count: > 0 } leases)
        {
            _limiter.ReleaseInBackground(leases, leaseId);
        }
    }

    /// <summary>
    /// Whether a failed call may have run (or may yet run) in Redis: not when the breaker or the client refused it, nor
    /// when Redis refused its keys (CROSSSLOT). A server error inside the script may come after some writes, so it counts.
    /// </summary>
    internal static bool WasSent(Exception exception) => exception switch
    {
        RedisEdgeUnavailableException { InnerException: null } => false,
        RedisEdgeUnavailableException { InnerException: RedisCommandException or RedisServerException { Kind: RedisErrorKind.CrossSlot } } => false,
        _ => true,
    };
}
