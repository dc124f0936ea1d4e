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
/// </remarks>
internal sealed class LocalDenyCache(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<(string Policy, string Tag), Entry> _entries = new();

    public bool TryGet(string policy, string tag, int cost, long generation, out TimeSpan remaining)
    {
        remaining = TimeSpan.Zero;
        if (_entries.IsEmpty || !_entries.TryGetValue((policy, tag), out var entry))
        {
            return false;
        }

        var left = timeProvider.GetElapsedTime(timeProvider.GetTimestamp(), entry.Until);
        if (left <= TimeSpan.Zero || entry.Generation != generation)
        {
            _entries.TryRemove(new KeyValuePair<(string, string), Entry>((policy, tag), entry));
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
        if (_entries.Count >= capacity)
        {
            Prune();
            if (_entries.Count >= capacity)
            {
                return;
            }
        }

        var until = startedTimestamp + (long)(retryAfter.TotalSeconds * timeProvider.TimestampFrequency);
        _entries[(policy, tag)] = new Entry(until, cost, generation);
    }

    public void Clear() => _entries.Clear();

    private void Prune()
    {
        var now = timeProvider.GetTimestamp();
        foreach (var pair in _entries)
        {
            if (pair.Value.Until <= now)
            {
                _entries.TryRemove(pair);
            }
        }
    }

    private readonly record struct Entry(long Until, int Cost, long Generation);
}
