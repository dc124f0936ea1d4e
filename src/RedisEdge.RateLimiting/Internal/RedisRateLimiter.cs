using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Turns a request's policy decisions into <c>rate_limit.lua</c> calls and reads the answers back: one call when the
/// keys share a cluster slot (always on a single node), otherwise one call per slot, in parallel, with a refund of
/// the slots that committed when another one rejects (see <see cref="EvaluateAcrossSlotsAsync"/>).
/// </summary>
internal sealed partial class RedisRateLimiter
{
    internal const int ArgsPerPolicy = 8;
    internal const int RefundArgsPerPolicy = 5;
    private static readonly RedisScript RateLimitScript = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "rate_limit.lua");
    private static readonly RedisScript ReleaseScript = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "release_lease.lua");
    private static readonly RedisScript RefundScript = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "rate_limit_refund.lua");

    private readonly RedisEdgeConnection _connection;
    private readonly RedisKeyBuilder _keys;
    private readonly RedisScriptRunner _runner;
    private readonly RateLimitingMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly RedisFeatureTelemetry _telemetry;
    private readonly RateLimitCoalescer _coalescer;

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
        _metrics = metrics;
        _logger = logger;
        _timeProvider = timeProvider;
        _telemetry = metrics.Telemetry;
        _runner = new RedisScriptRunner(connection, metrics.Telemetry, options.Value.Failure, logger, timeProvider);
        _coalescer = new RateLimitCoalescer(this, metrics);
    }

    /// <summary>Whether the connection is to Redis Cluster (the client then computes hash slots; elsewhere it has none).</summary>
    public bool OnCluster => _connection.Multiplexer.HashSlot(RedisRateLimitingDefaults.KeyFeature) >= 0;

    /// <summary>The runner (and so the breaker) of the rate-limit calls; for tests.</summary>
    internal RedisScriptRunner Runner => _runner;

    /// <summary>The hot-partition coalescer; for tests.</summary>
    internal RateLimitCoalescer Coalescer => _coalescer;

    public RedisKey Key(PolicyDecision decision) => SingleKey(decision)[0];

    /// <summary>
    /// The one-key array of a decision, kept per policy and partition (shared: never written to): the key is
    /// <c>rl:{partition}:policy:alg</c>, or with <c>SingleHashSlot</c> <c>rl:{rl}:partition:policy:alg</c>, one hash tag
    /// for every rate-limit key and still one key per partition.
    /// </summary>
    private RedisKey[] SingleKey(PolicyDecision decision) =>
        decision.Policy.Keys.Get(decision.Tag, (_keys, decision.Policy.KeySuffix, decision.Policy.SingleHashSlot), static (state, tag) => state.SingleHashSlot
            ? state._keys.Key(RedisRateLimitingDefaults.KeyFeature, RedisRateLimitingDefaults.KeyFeature, tag + ":" + state.KeySuffix)
            : state._keys.Key(RedisRateLimitingDefaults.KeyFeature, tag, state.KeySuffix));

    /// <summary>The keys of the decisions, in order; for one decision, its shared array (callers only read keys).</summary>
    private RedisKey[] Keys(List<PolicyDecision> decisions)
    {
        if (decisions.Count == 1)
        {
            return SingleKey(decisions[0]);
        }

        var keys = new RedisKey[decisions.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = Key(decisions[i]);
        }

        return keys;
    }

    /// <summary>
    /// Decides the request; returns whether it may proceed. On a cluster, decisions whose keys land in different hash
    /// slots are decided per slot and refunded where they committed if the request is rejected or fails anywhere. With
    /// <paramref name="coalesce"/>, a request whose decisions allow it shares its call with identical requests of this
    /// instance (see <see cref="RateLimitCoalescer"/>).
    /// </summary>
    public Task<bool> EvaluateAsync(List<PolicyDecision> decisions, string? leaseId, bool coalesce, CancellationToken cancellationToken)
    {
        var keys = Keys(decisions);
        var groups = SlotGroups(decisions, keys);
        if (groups is not null)
        {
            return EvaluateAcrossSlotsAsync(groups, leaseId ?? Guid.NewGuid().ToString("N"), cancellationToken);
        }

        return coalesce && leaseId is null && RateLimitCoalescer.CanCoalesce(decisions)
            ? _coalescer.EvaluateAsync(decisions, keys, cancellationToken)
            : EvaluateInOneCallAsync(decisions, keys, leaseId, cancellationToken);
    }

    /// <summary>The common path: one request, one call, one state machine between the middleware and the runner.</summary>
    private async Task<bool> EvaluateInOneCallAsync(List<PolicyDecision> decisions, RedisKey[] keys, string? leaseId, CancellationToken cancellationToken)
    {
        // The lease id is also the request's token: a sliding log then names its permits, so a refund finds them.
        var result = await _runner.EvaluateAsync(RateLimitScript, keys, Arguments(decisions, leaseId, token: leaseId, requests: 1), cancellationToken).ConfigureAwait(false);
        return RateLimitReply.Parse((RedisResult[])result!, decisions.Count).Apply(decisions, position: 1);
    }

    private async Task EvaluateGroupAsync(SlotGroup group, string? leaseId, string? token, CancellationToken cancellationToken)
    {
        var reply = await CallAsync(group.Decisions, [.. group.Keys], leaseId, token, requests: 1, cancellationToken).ConfigureAwait(false);
        group.Allowed = reply.Apply(group.Decisions, position: 1);
        group.DecidedAtMs = reply.DecidedAtMs;
    }

    /// <summary>
    /// One <c>rate_limit.lua</c> call deciding <paramref name="requests"/> identical requests of these decisions (more
    /// than one only when coalesced: no concurrency policy, no GCRA queue, no cross-slot token).
    /// </summary>
    internal async Task<RateLimitReply> CallAsync(
        List<PolicyDecision> decisions,
        RedisKey[] keys,
        string? leaseId,
        string? token,
        int requests,
        CancellationToken cancellationToken)
    {
        var result = await _runner.EvaluateAsync(RateLimitScript, keys, Arguments(decisions, leaseId, token, requests), cancellationToken).ConfigureAwait(false);
        return RateLimitReply.Parse((RedisResult[])result!, decisions.Count);
    }

    /// <summary>
    /// The script's arguments for <paramref name="requests"/> identical requests of these decisions. One policy at its
    /// configured limits, cost 1 and no per-request value (the usual request) sends the policy's kept array: the
    /// arguments are the same on every such call, and StackExchange.Redis only reads them.
    /// </summary>
    private static RedisValue[] Arguments(List<PolicyDecision> decisions, string? leaseId, string? token, int requests)
    {
        if (requests == 1 && decisions.Count == 1 && decisions[0] is var only && only.Cost == 1 &&
            only.Limit == only.Policy.Limit && only.P1 == only.Policy.P1 &&
            only.Policy.Algorithm != RedisRateLimitAlgorithm.Concurrency &&
            (token is null || only.Policy.Algorithm != RedisRateLimitAlgorithm.SlidingWindowLog))
        {
            return only.Policy.DefaultArguments ??= BuildArguments(decisions, leaseId: null, token: null, requests: 1);
        }

        return BuildArguments(decisions, leaseId, token, requests);
    }

    private static RedisValue[] BuildArguments(List<PolicyDecision> decisions, string? leaseId, string? token, int requests)
    {
        var args = new RedisValue[1 + decisions.Count * ArgsPerPolicy + (requests > 1 ? 1 : 0)];
        args[0] = decisions.Count;
        for (var i = 0; i < decisions.Count; i++)
        {
            var d = decisions[i];
            var b = 1 + i * ArgsPerPolicy;
            args[b] = d.Policy.AlgorithmCode;
            args[b + 1] = d.Policy.Shadow ? 1 : 0;
            args[b + 2] = d.Limit;
            args[b + 3] = d.Policy.PeriodMs;
            args[b + 4] = d.Cost;
            args[b + 5] = d.P1;
            args[b + 6] = d.Policy.P2;
            args[b + 7] = d.Policy.Algorithm switch
            {
                RedisRateLimitAlgorithm.Concurrency => leaseId,
                RedisRateLimitAlgorithm.SlidingWindowLog when token is not null => token,
                _ => RedisValue.EmptyString,
            };
        }

        if (requests > 1)
        {
            args[^1] = requests;
        }

        return args;
    }

    /// <summary>
    /// Releases the concurrency leases the request holds (one more round trip per slot, only for concurrency policies).
    /// It bypasses the circuit breaker: a release frees a slot whatever state the breaker is in, and its outcome must
    /// not count as the breaker's probe. Bounded by <c>Failure:Timeout</c>; a lease whose release fails expires on its
    /// own.
    /// </summary>
    /// <remarks>
    /// The release is queued on the same connection as the call that took the leases, so Redis runs it after that
    /// call even when the caller stopped waiting for it (timeout, aborted request). Releasing leases that were never
    /// taken removes nothing.
    /// </remarks>
    public Task ReleaseAsync(List<PolicyDecision> leases, string leaseId)
    {
        var keys = Keys(leases);
        var groups = SlotGroups(leases, keys);
        if (groups is null)
        {
            return ReleaseAsync(new SlotGroup(leases, [.. keys]), leaseId);
        }

        var releases = new Task[groups.Count];
        for (var i = 0; i < groups.Count; i++)
        {
            releases[i] = ReleaseAsync(groups[i], leaseId);
        }

        return Task.WhenAll(releases);
    }

    /// <summary>Queues the release now and lets the request go on without waiting for its answer.</summary>
    public void ReleaseInBackground(List<PolicyDecision> leases, string leaseId) => _ = ReleaseAsync(leases, leaseId);

    private async Task ReleaseAsync(SlotGroup group, string leaseId)
    {
        var args = new RedisValue[1 + group.Decisions.Count];
        args[0] = leaseId;
        for (var i = 0; i < group.Decisions.Count; i++)
        {
            args[i + 1] = group.Decisions[i].Cost.ToString(CultureInfo.InvariantCulture);
        }

        await RunUnguardedAsync(ReleaseScript, [.. group.Keys], args).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a clean-up script (release, refund) through Core's settlement path: outside the circuit breaker, bounded by
    /// <c>Failure:Timeout</c>; returns the outcome (<c>success</c> or the failure's classification). A failed clean-up
    /// is logged, never thrown: the lease or reservation it meant to free expires on its own.
    /// </summary>
    private async Task<string> RunUnguardedAsync(RedisScript script, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            await _runner.SettleAsync(script, keys, args).ConfigureAwait(false);
            return "success";
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException or TimeoutException or ObjectDisposedException)
        {
            Log.CleanupFailed(_logger, script.Name, ex);
            return RedisErrorClassifier.Outcome(ex.InnerException ?? ex);
        }
    }
}
