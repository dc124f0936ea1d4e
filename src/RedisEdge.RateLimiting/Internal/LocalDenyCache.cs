using System.Collections.Concurrent;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Remembers, per policy and partition, that a request of a given cost was rejected until a given moment.
/// </summary>
/// <remarks>
/// Safe for every algorithm except concurrency (a release can come early): between the rejection and its retry
/// time, other requests only consume, so a request of at least the same cost would be rejected by Redis too.
/// The moment is measured from before the script call, so the entry never outlives the real rejection. Each entry
/// carries the generation of the policy set it was decided under: after a reload it no longer rejects anything.
/// <para>
/// Bounded by <c>LocalDenyCacheSize</c>. The cache fills up exactly when many partitions are being refused at once
/// (a distributed flood), so being full must stay cheap: the entry count is kept in a counter (not
/// <see cref="ConcurrentDictionary{TKey, TValue}.Count"/>, which takes every lock), and expired entries are swept at
/// most once per <see cref="PruneInterval"/>, by one thread; between sweeps a new partition is simply not remembered
/// (Redis still decides it, exactly).
/// </para>
/// </remarks>
internal sealed class LocalDenyCache(TimeProvider timeProvider)
{
    /// <summary>The least time between two sweeps of expired entries when the cache is full.</summary>
    internal static readonly TimeSpan PruneInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(string Policy, string Tag), Entry> _entries = new();
    private int _count;
    private long _nextPrune;
    private int _pruning;

    /// <summary>Entries held (expired ones included until they are found or swept); for tests.</summary>
    internal int Count => Volatile.Read(ref _count);

    public bool TryGet(string policy, string tag, int cost, long generation, out TimeSpan remaining)
    {
        remaining = TimeSpan.Zero;
        if (Volatile.Read(ref _count) == 0 || !_entries.TryGetValue((policy, tag), out var entry))
        {
            return false;
        }

        var left = timeProvider.GetElapsedTime(timeProvider.GetTimestamp(), entry.Until);
        if (left <= TimeSpan.Zero || entry.Generation != generation)
        {
            Remove(new KeyValuePair<(string, string), Entry>((policy, tag), entry));
            return false;
        }

        if (cost < entry.Cost)
        {
            return false;
        }

        remaining = left;
        return true;
    }

    public void Add(string policy, string tag, int cost, long generation, long startedTimestamp, TimeSpan retryAfter, int capacity)
    {
        var until = startedTimestamp + (long)(retryAfter.TotalSeconds * timeProvider.TimestampFrequency);
        var key = (policy, tag);
        var entry = new Entry(until, cost, generation);
        while (true)
        {
            if (_entries.TryGetValue(key, out var current))
            {
                // A partition already remembered: a later rejection moves its moment, whatever the count.
                if (_entries.TryUpdate(key, entry, current))
                {
                    return;
                }

                continue;
            }

            if (Volatile.Read(ref _count) >= capacity && !TryPrune(capacity))
            {
                return;
            }

            // Only an add counts, only a removal uncounts: the counter stays exact under races.
            if (_entries.TryAdd(key, entry))
            {
                Interlocked.Increment(ref _count);
                return;
            }
        }
    }

    public void Clear()
    {
        foreach (var pair in _entries)
        {
            Remove(pair);
        }
    }

    /// <summary>Sweeps expired entries if no sweep ran in the last <see cref="PruneInterval"/>; returns whether there is room now.</summary>
    private bool TryPrune(int capacity)
    {
        var now = timeProvider.GetTimestamp();
        if (now < Volatile.Read(ref _nextPrune) || Interlocked.Exchange(ref _pruning, 1) == 1)
        {
            return false;
        }

        try
        {
            foreach (var pair in _entries)
            {
                if (pair.Value.Until <= now)
                {
                    Remove(pair);
                }
            }

            Volatile.Write(ref _nextPrune, now + (long)(PruneInterval.TotalSeconds * timeProvider.TimestampFrequency));
        }
        finally
        {
            Volatile.Write(ref _pruning, 0);
        }

        return Volatile.Read(ref _count) < capacity;
    }

    private void Remove(KeyValuePair<(string Policy, string Tag), Entry> pair)
    {
        if (_entries.TryRemove(pair))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private readonly record struct Entry(long Until, int Cost, long Generation);
}
