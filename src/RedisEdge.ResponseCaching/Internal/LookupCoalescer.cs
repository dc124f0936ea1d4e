using System.Collections.Concurrent;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Concurrent lookups of one variant on this instance share one script call, as Output Caching's <c>WorkDispatcher</c>
/// shares one store read: the first request sends lookup.lua, and requests for the same key that arrive while it is in
/// flight await its answer instead of sending their own. Waiters woken by one fill look up together, so they share too.
/// </summary>
/// <remarks>
/// <para>The fill lease the lookup may take belongs to the request that sent it; the requests that joined it see the
/// answer without the lease (so they serve a hit or a stale copy, or wait for the fill like any other waiter).</para>
/// <para>The call itself is never cancelled (it may hand its sender the lease), and a request that joined it waits for it
/// as its sender does, at most the failure policy's <c>Timeout</c>: stopping when its client aborts would cost every
/// joined hit a cancellation registration and a task of its own. A lookup that started before this instance heard of an invalidation (an eviction or a fill of any
/// key: <see cref="NearCache.Invalidations"/> moved) is not joined, so a request that starts after its own instance
/// evicted a key never gets an answer read before the eviction.</para>
/// <para>The request that leads a flight sends the lookup and awaits it itself (<see cref="Flight.Complete"/> or
/// <see cref="Flight.Fail"/> then answers the others): a hit costs its own state machine and no second one here, and
/// nothing is allocated for the joiners until one arrives.</para>
/// </remarks>
internal sealed class LookupCoalescer(NearCache near)
{
    private readonly ConcurrentDictionary<(string Entry, bool CanFill, bool Forwards), Flight> _flights = new();
    private long _joined;

    /// <summary>Lookups answered by another request's call; for tests.</summary>
    internal long Joined => Interlocked.Read(ref _joined);

    /// <summary>
    /// Joins the lookup of <paramref name="keys"/>' entry in flight on this instance and returns its answer; or, when none
    /// can be joined, returns <see langword="null"/> and makes <paramref name="lead"/> this request's own flight, which
    /// the caller sends and then settles. <paramref name="canFill"/>: the request sends a lease token;
    /// <paramref name="forwards"/>: it runs the origin if it gets no lease, so it needs a stale-if-error copy. The joined
    /// task is shared by every joiner: await it, never cancel a wait on it.
    /// </summary>
    public Task<LookupResult>? Join(CacheRequestKeys keys, bool canFill, bool forwards, out Flight lead)
    {
        var key = (keys.EntryName, canFill, forwards);
        var epoch = near.Invalidations;
        while (true)
        {
            if (_flights.TryGetValue(key, out var flight))
            {
                if (flight.Epoch == epoch)
                {
                    Interlocked.Increment(ref _joined);
                    lead = null!;
                    return flight.Join();
                }

                // Started before an invalidation this instance has heard of: later requests get a lookup of their own.
                var replacement = new Flight(this, key, epoch);
                if (_flights.TryUpdate(key, replacement, flight))
                {
                    lead = replacement;
                    return null;
                }

                continue;
            }

            var own = new Flight(this, key, epoch);
            if (_flights.TryAdd(key, own))
            {
                lead = own;
                return null;
            }
        }
    }

    /// <summary>One lookup in flight: its key, the invalidation epoch it started in, and, once joined, its joiners' task.</summary>
    internal sealed class Flight(LookupCoalescer owner, (string, bool, bool) key, long epoch)
    {
        private TaskCompletionSource<LookupResult>? _joiners;
        private LookupResult _result;
        private Exception? _error;
        private int _done;

        /// <summary><see cref="NearCache.Invalidations"/> when the call was sent.</summary>
        public long Epoch => epoch;

        /// <summary>The answer for the requests that joined; made by the first of them.</summary>
        public Task<LookupResult> Join()
        {
            var joiners = Volatile.Read(ref _joiners);
            if (joiners is null)
            {
                var created = new TaskCompletionSource<LookupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                joiners = Interlocked.CompareExchange(ref _joiners, created, null) ?? created;

                // The leader may have finished before it could see this task: then it is answered here.
                if (Volatile.Read(ref _done) != 0)
                {
                    Answer(joiners);
                }
            }

            return joiners.Task;
        }

        /// <summary>The leader's answer: the joiners get it without the lease, which is the leader's alone.</summary>
        public void Complete(LookupResult result)
        {
            _result = result.Filler ? result with { Filler = false } : result;
            Settle();
        }

        public void Fail(Exception exception)
        {
            _error = exception;
            Settle();
        }

        private void Settle()
        {
            owner._flights.TryRemove(new KeyValuePair<(string, bool, bool), Flight>(key, this));

            // A full fence: either the leader sees a joiners' task made before it, or its maker sees _done.
            Interlocked.Exchange(ref _done, 1);
            if (Volatile.Read(ref _joiners) is { } joiners)
            {
                Answer(joiners);
            }
        }

        private void Answer(TaskCompletionSource<LookupResult> joiners)
        {
            if (_error is { } error)
            {
                joiners.TrySetException(error);

                // Marked observed: the joiners rethrow it, and the fault must never surface as UnobservedTaskException.
                _ = joiners.Task.Exception;
            }
            else
            {
                joiners.TrySetResult(_result);
            }
        }
    }
}
