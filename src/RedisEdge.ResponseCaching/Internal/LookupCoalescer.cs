using System.Collections.Concurrent;
using StackExchange.Redis;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Concurrent lookups of one variant on this instance share one script call, as Output Caching's <c>WorkDispatcher</c>
/// shares one store read: the first request sends lookup.lua, and requests for the same key that arrive while it is in
/// flight await its answer instead of sending their own. Waiters woken by one fill look up together, so they share too.
/// </summary>
/// <remarks>
/// <para>The fill lease the lookup may take belongs to the request that sent it; the requests that joined it see the
/// answer without the lease (so they serve a hit or a stale copy, or wait for the fill like any other waiter).</para>
/// <para>The call itself is never cancelled (it may hand its sender the lease); a request whose client aborts only stops
/// waiting for it. A lookup that started before this instance heard of an invalidation (an eviction or a fill of any
/// key: <see cref="NearCache.Invalidations"/> moved) is not joined, so a request that starts after its own instance
/// evicted a key never gets an answer read before the eviction.</para>
/// </remarks>
internal sealed class LookupCoalescer(ResponseCacheStore store, NearCache near)
{
    private readonly ConcurrentDictionary<(string Entry, bool CanFill, bool Forwards), Flight> _flights = new();
    private long _joined;

    /// <summary>Lookups answered by another request's call; for tests.</summary>
    internal long Joined => Interlocked.Read(ref _joined);

    /// <summary>
    /// The lookup of <paramref name="keys"/>' entry for a request whose lease token is <paramref name="owner"/> (empty: may not
    /// fill); <paramref name="forwards"/>: the request runs the origin if it gets no lease, so it needs a stale-if-error copy.
    /// </summary>
    public Task<LookupResult> LookupAsync(CacheRequestKeys keys, string owner, long leaseMs, bool forwards, CancellationToken aborted)
    {
        var key = (keys.EntryName, owner.Length != 0, forwards);
        var epoch = near.Invalidations;
        while (true)
        {
            if (_flights.TryGetValue(key, out var flight))
            {
                if (flight.Epoch == epoch)
                {
                    Interlocked.Increment(ref _joined);
                    return JoinAsync(flight, aborted);
                }

                // Started before an invalidation this instance has heard of: later requests get a lookup of their own.
                var replacement = new Flight(epoch);
                if (_flights.TryUpdate(key, replacement, flight))
                {
                    return LeadAsync(key, replacement, keys.LookupKeys, owner, leaseMs, forwards);
                }

                continue;
            }

            var own = new Flight(epoch);
            if (_flights.TryAdd(key, own))
            {
                return LeadAsync(key, own, keys.LookupKeys, owner, leaseMs, forwards);
            }
        }
    }

    private async Task<LookupResult> LeadAsync((string, bool, bool) key, Flight flight, RedisKey[] keys, string owner, long leaseMs, bool forwards)
    {
        try
        {
            // The store's lookup in two halves, awaited here: one state machine per lookup, not two.
            var reply = await store.SendLookupAsync(keys, owner, leaseMs, forwards, CancellationToken.None).ConfigureAwait(false);
            var result = store.ReadLookup(reply, keys[0])
                ?? await store.LookupAsMissAsync(keys, owner, leaseMs, forwards, CancellationToken.None).ConfigureAwait(false);
            _flights.TryRemove(new KeyValuePair<(string, bool, bool), Flight>(key, flight));
            flight.TrySetResult(result.Filler ? result with { Filler = false } : result);
            return result;
        }
        catch (Exception ex)
        {
            _flights.TryRemove(new KeyValuePair<(string, bool, bool), Flight>(key, flight));
            flight.TrySetException(ex);

            // Observed here: when nobody joined, the failure is this request's alone (it rethrows it).
            _ = flight.Task.Exception;
            throw;
        }
    }

    private static Task<LookupResult> JoinAsync(Flight flight, CancellationToken aborted) =>
        aborted.CanBeCanceled ? flight.Task.WaitAsync(aborted) : flight.Task;

    private sealed class Flight(long epoch) : TaskCompletionSource<LookupResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        /// <summary><see cref="NearCache.Invalidations"/> when the call was sent.</summary>
        public long Epoch { get; } = epoch;
    }
}
