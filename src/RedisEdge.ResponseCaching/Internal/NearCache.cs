using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// The optional in-process copy of hot fresh entries: a bounded LRU, invalidated per key by
/// <see cref="ResponseCacheEvents"/> when Redis publishes that an entry was replaced or evicted.
/// </summary>
/// <remarks>
/// Correctness over speed. A copy is only ever added from a Redis read that started after the last invalidation
/// of its key reached this instance (a per-key-stripe version is taken before the read and checked on add), and
/// only while the invalidation subscription is known to be live: when it drops, the cache is emptied and stays
/// empty until <see cref="Resume"/> after the subscription has been verified end to end. What remains is the
/// delivery delay of pub/sub itself: for that long after an eviction returns on one instance, another may still
/// serve its copy.
/// </remarks>
internal sealed class NearCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<Item>> _items = new(StringComparer.Ordinal);
    private readonly LinkedList<Item> _lru = new();
    private readonly NearCacheFence _fence = new();
    private readonly TimeProvider _timeProvider;
    private readonly int _maxEntries;
    private readonly long _maxEntrySize;
    private long _invalidations;

    public NearCache(IOptions<RedisResponseCachingOptions> options, TimeProvider timeProvider)
    {
        var near = options.Value.NearCache;
        Enabled = near.Enabled;
        _maxEntries = near.MaxEntries;
        _maxEntrySize = near.MaxEntrySize;
        _timeProvider = timeProvider;
    }

    public bool Enabled { get; }

    /// <summary>Whether the cache may serve and accept entries (the subscription is verified live).</summary>
    public bool IsLive
    {
        get
        {
            lock (_gate)
            {
                return _fence.IsLive;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>Invalidation messages processed (for tests that wait for propagation).</summary>
    public long Invalidations => Interlocked.Read(ref _invalidations);

    /// <summary>Taken before the Redis read whose result may be added; see <see cref="TryAdd"/>.</summary>
    public NearCacheFence.Token Snapshot(string key)
    {
        if (!Enabled)
        {
            return default;
        }

        lock (_gate)
        {
            return _fence.Snapshot(key);
        }
    }

    public bool TryGet(string key, out CachedEntry entry, out long serverNow)
    {
        entry = null!;
        serverNow = 0;
        if (!Enabled)
        {
            return false;
        }

        lock (_gate)
        {
            if (!_fence.IsLive || !_items.TryGetValue(key, out var node))
            {
                return false;
            }

            var item = node.Value;
            var elapsed = (long)_timeProvider.GetElapsedTime(item.Fetched).TotalMilliseconds;
            serverNow = item.FetchedServerNow + elapsed;
            if (serverNow >= item.Entry.FreshUntil)
            {
                _items.Remove(key);
                _lru.Remove(node);
                return false;
            }

            _lru.Remove(node);
            _lru.AddFirst(node);
            entry = item.Entry;
            return true;
        }
    }

    /// <summary>
    /// Adds a fresh entry read from Redis at server time <paramref name="serverNow"/>, unless its key was invalidated
    /// or the subscription dropped since <paramref name="version"/> was taken.
    /// </summary>
    public void TryAdd(string key, NearCacheFence.Token version, CachedEntry entry, long serverNow)
    {
        if (!Enabled || entry.Body.Length > _maxEntrySize || serverNow >= entry.FreshUntil)
        {
            return;
        }

        lock (_gate)
        {
            if (!_fence.Admits(version, key))
            {
                return;
            }

            if (_items.Remove(key, out var existing))
            {
                _lru.Remove(existing);
            }

            var node = _lru.AddFirst(new Item(key, entry, _timeProvider.GetTimestamp(), serverNow));
            _items[key] = node;
            while (_items.Count > _maxEntries && _lru.Last is { } last)
            {
                _items.Remove(last.Value.Key);
                _lru.RemoveLast();
            }
        }
    }

    public void Invalidate(string key)
    {
        Interlocked.Increment(ref _invalidations);
        if (!Enabled)
        {
            return;
        }

        lock (_gate)
        {
            _fence.Invalidate(key);
            if (_items.Remove(key, out var node))
            {
                _lru.Remove(node);
            }
        }
    }

    /// <summary>The subscription dropped: forget everything and accept nothing until <see cref="Resume"/>.</summary>
    public void Suspend()
    {
        lock (_gate)
        {
            _fence.Suspend();
            Clear();
        }
    }

    /// <summary>The subscription is verified live: start empty (anything held may have missed an invalidation).</summary>
    public void Resume()
    {
        lock (_gate)
        {
            _fence.Resume();
            Clear();
        }
    }

    private void Clear()
    {
        _items.Clear();
        _lru.Clear();
    }

    private sealed record Item(string Key, CachedEntry Entry, long Fetched, long FetchedServerNow);
}
