using System.Runtime.ExceptionServices;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Decisions whose keys span Redis Cluster hash slots: reserve in every slot, then confirm or refund.</summary>
internal sealed partial class RedisRateLimiter
{
    /// <summary>
    /// Reserve in every slot at once, then confirm or refund. Each slot's call is all-or-nothing for its own policies
    /// and commits as a single-slot call does. Every slot accepted: the request proceeds. A slot rejected: the slots
    /// that committed are refunded (awaited, so the state at rest counts only admitted requests) and the request is
    /// rejected, even when another slot's call failed. No slot rejected but one failed: the committed slots are
    /// refunded and the failure is rethrown, so the failure mode applies as to a single-slot call that failed.
    /// </summary>
    /// <remarks>
    /// Between a reservation and its refund the capacity is held for about one round trip, so a concurrent request
    /// may be rejected that would have fit: false rejections are bounded by the reservations in flight, and nothing is
    /// ever over-admitted. A refund that fails leaves that reservation in place until its window passes (an
    /// under-admission, never an over-admission); a call that failed after being sent may still commit, exactly as a
    /// single-slot call that timed out may.
    /// </remarks>
    private async Task<bool> EvaluateAcrossSlotsAsync(List<SlotGroup> groups, string token, CancellationToken cancellationToken)
    {
        var calls = new Task[groups.Count];
        for (var i = 0; i < groups.Count; i++)
        {
            calls[i] = EvaluateGroupAsync(groups[i], token, token, cancellationToken);
        }

        try
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Each call's outcome is read below.
        }

        Exception? failure = null;
        var rejected = false;
        List<SlotGroup>? committed = null;
        List<PolicyDecision>? unknownLeases = null;
        for (var i = 0; i < groups.Count; i++)
        {
            if (!calls[i].IsCompletedSuccessfully)
            {
                failure ??= calls[i].Exception?.InnerException ?? new OperationCanceledException(cancellationToken);
                foreach (var d in groups[i].Decisions)
                {
                    if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency)
                    {
                        (unknownLeases ??= []).Add(d);
                    }
                }
            }
            else if (groups[i].Allowed)
            {
                (committed ??= []).Add(groups[i]);
            }
            else
            {
                rejected = true;
            }
        }

        if (!rejected && failure is null)
        {
            return true;
        }

        if (committed is not null)
        {
            await RefundAsync(committed, token).ConfigureAwait(false);
        }

        if (rejected)
        {
            if (unknownLeases is not null)
            {
                // A failed call may still take its leases (the caller only releases on a thrown failure); the
                // release is idempotent and queued behind it.
                ReleaseInBackground(unknownLeases, token);
            }

            return false;
        }

        ExceptionDispatchInfo.Throw(failure!);
        return false;
    }

    /// <summary>
    /// Gives back everything an admitted request took, in every slot (a GCRA-queued request whose client gave up while
    /// it waited): one <c>rate_limit_refund.lua</c> call per slot, outside the breaker, idempotent.
    /// </summary>
    public Task RefundAbandonedAsync(List<PolicyDecision> decisions, string token)
    {
        var keys = Keys(decisions);
        var groups = SlotGroups(decisions, keys) ?? [new SlotGroup(decisions, [.. keys])];
        foreach (var group in groups)
        {
            group.DecidedAtMs = group.Decisions[0].DecidedAtMs;
        }

        return RefundAsync(groups, token);
    }

    /// <summary>Gives back what the committed slots took, one <c>rate_limit_refund.lua</c> call per slot, in parallel.</summary>
    private Task RefundAsync(List<SlotGroup> committed, string token)
    {
        var refunds = new Task[committed.Count];
        for (var i = 0; i < committed.Count; i++)
        {
            refunds[i] = RefundAsync(committed[i], token);
        }

        return Task.WhenAll(refunds);
    }

    private async Task RefundAsync(SlotGroup group, string token)
    {
        var decisions = group.Decisions;
        var keys = new RedisKey[1 + decisions.Count];
        // The marker shares the state keys' slot: the partition's tag, or with SingleHashSlot the one tag of them all.
        keys[0] = _keys.Key(RedisRateLimitingDefaults.KeyFeature, decisions[0].Policy.SingleHashSlot ? RedisRateLimitingDefaults.KeyFeature : decisions[0].Tag, "refund:" + token);
        var args = new RedisValue[3 + decisions.Count * RefundArgsPerPolicy];
        args[0] = decisions.Count;
        args[1] = group.DecidedAtMs;
        args[2] = token;
        for (var i = 0; i < decisions.Count; i++)
        {
            var d = decisions[i];
            keys[i + 1] = group.Keys[i];
            var b = 3 + i * RefundArgsPerPolicy;
            args[b] = d.Policy.AlgorithmCode;
            args[b + 1] = d.Limit;
            args[b + 2] = d.Policy.PeriodMs;

            // A policy that did not accept (shadow-rejected) committed nothing: a cost of 0 gives nothing back.
            args[b + 3] = d.Result == RedisRateLimitResult.Allowed ? d.Cost : 0;
            args[b + 4] = d.P1;
        }

        var outcome = await RunUnguardedAsync(RefundScript, keys, args).ConfigureAwait(false);
        foreach (var d in decisions)
        {
            if (d.Result == RedisRateLimitResult.Allowed)
            {
                _metrics.RecordRefund(d.Policy.Name, outcome);
                if (outcome == "success")
                {
                    d.Remaining = Math.Min(d.Limit, d.Remaining + d.Cost);
                }
            }
        }
    }

    /// <summary>
    /// The decisions grouped by cluster hash slot, in request order, or <see langword="null"/> when they all share one
    /// (always on a single node, where the client computes no slot; and with <c>SingleHashSlot</c>).
    /// </summary>
    private List<SlotGroup>? SlotGroups(List<PolicyDecision> decisions, RedisKey[] keys)
    {
        if (decisions.Count < 2)
        {
            return null;
        }

        var multiplexer = _connection.Multiplexer;
        var first = multiplexer.HashSlot(keys[0]);
        var i = 1;
        while (i < keys.Length && multiplexer.HashSlot(keys[i]) == first)
        {
            i++;
        }

        if (i == keys.Length)
        {
            return null;
        }

        var groups = new List<SlotGroup>();
        var bySlot = new Dictionary<int, SlotGroup>();
        for (i = 0; i < keys.Length; i++)
        {
            var slot = multiplexer.HashSlot(keys[i]);
            if (!bySlot.TryGetValue(slot, out var group))
            {
                group = new SlotGroup([], []);
                bySlot[slot] = group;
                groups.Add(group);
            }

            group.Decisions.Add(decisions[i]);
            group.Keys.Add(keys[i]);
        }

        return groups;
    }

    /// <summary>The decisions of one request whose keys share a hash slot, and what their call answered.</summary>
    private sealed class SlotGroup(List<PolicyDecision> decisions, List<RedisKey> keys)
    {
        public List<PolicyDecision> Decisions { get; } = decisions;

        public List<RedisKey> Keys { get; } = keys;

        public bool Allowed { get; set; }

        /// <summary>The Redis server time of the decision, in whole ms: the window a refund must find.</summary>
        public long DecidedAtMs { get; set; }
    }
}
