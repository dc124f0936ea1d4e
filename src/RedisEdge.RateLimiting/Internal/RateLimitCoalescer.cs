using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Hot-partition coalescing: requests of this instance with the same policies, partitions and costs share script calls.
/// The first request of an idle lane is sent at once; while a call of the lane is in flight, later requests queue here,
/// and when it completes they all go in the next call, which decides them in arrival order (<c>rate_limit.lua</c> with
/// <c>m</c> requests admits the longest prefix that fits). So a request waits for at most the call in flight plus its
/// own, each bounded by <c>Failure:Timeout</c>, and the limits stay exact: the script admits no more than it would to
/// the same requests sent one by one.
/// </summary>
/// <remarks>
/// A request cancelled while it is queued is dropped before its call is built, so it takes nothing; once its call is
/// sent it is decided with the batch, like a request whose own call was already sent. Concurrency policies, GCRA queues
/// and decisions spanning cluster slots are never coalesced (each needs per-request state in Redis).
/// </remarks>
internal sealed class RateLimitCoalescer
{
    private readonly RedisRateLimiter _limiter;
    private readonly RateLimitingMetrics _metrics;
    private readonly ConcurrentDictionary<LaneKey, Lane> _lanes = new();

    public RateLimitCoalescer(RedisRateLimiter limiter, RateLimitingMetrics metrics)
    {
        _limiter = limiter;
        _metrics = metrics;
    }

    /// <summary>Lanes that have a call in flight; for tests (an idle lane is removed).</summary>
    internal int ActiveLanes => _lanes.Count;

    /// <summary>Requests waiting for the next call of their lane whose request has not been aborted; for tests.</summary>
    internal int Queued
    {
        get
        {
            var queued = 0;
            foreach (var lane in _lanes.Values)
            {
                lock (lane)
                {
                    foreach (var w in lane.Pending ?? [])
                    {
                        queued += w.CancellationToken.IsCancellationRequested ? 0 : 1;
                    }
                }
            }

            return queued;
        }
    }

    /// <summary>Whether these decisions may share a call with identical ones.</summary>
    public static bool CanCoalesce(List<PolicyDecision> decisions)
    {
        foreach (var d in decisions)
        {
            if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency || (d.Policy.Algorithm == RedisRateLimitAlgorithm.Gcra && d.Policy.P2 > 0))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Decides the request through its lane; fills <paramref name="decisions"/> and returns whether it may proceed.</summary>
    public async Task<bool> EvaluateAsync(List<PolicyDecision> decisions, RedisKey[] keys, CancellationToken cancellationToken)
    {
        var key = new LaneKey(decisions);
        Lane lane;
        Waiter? waiter = null;
        while (true)
        {
            lane = _lanes.GetOrAdd(key, static k => new Lane(k));
            lock (lane)
            {
                if (lane.Retired)
                {
                    continue;
                }

                if (lane.Busy)
                {
                    waiter = new Waiter(decisions, keys, Activity.Current, cancellationToken);
                    (lane.Pending ??= []).Add(waiter);
                }
                else
                {
                    lane.Busy = true;
                }
            }

            break;
        }

        if (waiter is not null)
        {
            // The waiter itself is cancelled with the request (no WaitAsync promise per queued request): cancelled
            // while queued, it is dropped from the batch; once sent, it is decided with the batch but answers nothing.
            (RateLimitReply Reply, int Position) answer;
            using (cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).TrySetCanceled(token), waiter))
            {
                answer = await waiter.Task.ConfigureAwait(false);
            }

            return answer.Reply.Apply(decisions, answer.Position);
        }

        // The lane was idle: this request's call goes at once, as it would without coalescing, and whatever queues
        // behind it goes in the next call once this one is answered (or abandoned: the next call is then pipelined
        // behind it on the same connection, which Redis runs in order anyway).
        RateLimitReply reply;
        try
        {
            reply = await _limiter.CallAsync(decisions, keys, leaseId: null, token: null, requests: 1, cancellationToken).ConfigureAwait(false);
            _metrics.RecordCoalescedCall(1);
        }
        finally
        {
            if (NextBatch(lane) is { } next)
            {
                _ = RunAsync(lane, next);
            }
        }

        return reply.Apply(decisions, position: 1);
    }

    /// <summary>Sends the lane's queued requests, one call per batch, until no request is waiting.</summary>
    private async Task RunAsync(Lane lane, List<Waiter> initial)
    {
        for (List<Waiter>? batch = initial; batch is not null; batch = NextBatch(lane))
        {
            var first = batch[0];

            // The span of the call belongs to the first request of the batch, not to whichever request's continuation
            // happens to send it.
            Activity.Current = first.Activity;
            try
            {
                var reply = await _limiter.CallAsync(first.Decisions, first.Keys, leaseId: null, token: null, batch.Count, CancellationToken.None).ConfigureAwait(false);
                _metrics.RecordCoalescedCall(batch.Count);
                for (var j = 0; j < batch.Count; j++)
                {
                    batch[j].TrySetResult((reply, j + 1));
                }
            }
            catch (Exception ex)
            {
                foreach (var w in batch)
                {
                    // A request that stopped waiting would leave the failure unobserved.
                    if (w.CancellationToken.IsCancellationRequested)
                    {
                        w.TrySetCanceled(w.CancellationToken);
                    }
                    else
                    {
                        w.TrySetException(ex);
                    }
                }
            }
        }
    }

    /// <summary>The requests queued while the last call was in flight, less the cancelled ones; <see langword="null"/> retires the idle lane.</summary>
    private List<Waiter>? NextBatch(Lane lane)
    {
        lock (lane)
        {
            // The queue itself becomes the batch; the next request to queue starts a new one.
            var batch = lane.Pending;
            lane.Pending = null;
            if (batch is not null)
            {
                foreach (var w in batch)
                {
                    if (w.CancellationToken.IsCancellationRequested)
                    {
                        w.TrySetCanceled(w.CancellationToken);
                    }
                }

                batch.RemoveAll(static w => w.Task.IsCanceled);
                if (batch.Count == 0)
                {
                    batch = null;
                }
            }

            if (batch is null)
            {
                lane.Busy = false;
                lane.Retired = true;
                _lanes.TryRemove(new KeyValuePair<LaneKey, Lane>(lane.Key, lane));
            }

            return batch;
        }
    }

    private sealed class Lane(LaneKey key)
    {
        public LaneKey Key { get; } = key;

        /// <summary>Requests waiting for the next call; created by the first of them, so an idle lane allocates none.</summary>
        public List<Waiter>? Pending { get; set; }

        public bool Busy { get; set; }

        /// <summary>Removed from the dictionary: a request that still found it takes a new lane.</summary>
        public bool Retired { get; set; }
    }

    private sealed class Waiter(List<PolicyDecision> decisions, RedisKey[] keys, Activity? activity, CancellationToken cancellationToken)
        : TaskCompletionSource<(RateLimitReply Reply, int Position)>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public List<PolicyDecision> Decisions { get; } = decisions;

        public RedisKey[] Keys { get; } = keys;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public Activity? Activity { get; } = activity;
    }

    /// <summary>
    /// Requests share a lane when they would send the same script arguments: the same policies (the same policy-set
    /// generation, so a reload never mixes limits), partitions, limits and costs, in the same order.
    /// </summary>
    private readonly struct LaneKey : IEquatable<LaneKey>
    {
        private readonly List<PolicyDecision> _decisions;
        private readonly int _hash;

        public LaneKey(List<PolicyDecision> decisions)
        {
            _decisions = decisions;
            var hash = default(HashCode);
            foreach (var d in decisions)
            {
                hash.Add(d.Policy);
                hash.Add(d.Tag);
                hash.Add(d.Cost);
                hash.Add(d.Limit);
                hash.Add(d.P1);
            }

            _hash = hash.ToHashCode();
        }

        public bool Equals(LaneKey other)
        {
            if (_hash != other._hash || _decisions.Count != other._decisions.Count)
            {
                return false;
            }

            for (var i = 0; i < _decisions.Count; i++)
            {
                var a = _decisions[i];
                var b = other._decisions[i];
                if (!ReferenceEquals(a.Policy, b.Policy) || a.Cost != b.Cost || a.Limit != b.Limit || a.P1 != b.P1 || !string.Equals(a.Tag, b.Tag, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }

        public override bool Equals(object? obj) => obj is LaneKey other && Equals(other);

        public override int GetHashCode() => _hash;
    }
}
