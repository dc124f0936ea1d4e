using System.Text;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// The optional in-process copy of hot sessions: a bounded LRU keyed by hash tag, each copy with the version Redis gave
/// it, the local time its idle expiry is known to fall after, and when it was last verified and slid.
/// </summary>
/// <remarks>
/// A copy is added only from a Redis read that started after the last invalidation of its tag reached this instance (a
/// per-stripe counter is taken before the read and checked on add) and only while the invalidation subscription is
/// known to be live; when it drops, the cache empties and stays empty until <see cref="Resume"/>. Deadlines are local
/// monotonic timestamps taken <em>before</em> the Redis call that reported them, so a copy never outlives what Redis
/// holds. A request reads the copy's dictionary without copying it and never changes it: <see cref="RedisSessionData"/>
/// copies each value read out, and makes its own dictionary before the request's first change is applied.
/// </remarks>
internal sealed class RedisSessionNearCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _items = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new();
    private readonly NearCacheFence _fence = new();
    private readonly TimeProvider _timeProvider;
    private readonly int _maxEntries;
    private readonly long _maxBytes;
    private readonly long _staleness;
    private readonly long _slideInterval;
    private long _bytes;
    private long _invalidations;
    private long _slides;
    private long _hits;

    // Session id to hash tag, for the ids this instance has seen lately (near cache only: the ids are then held in
    // memory for as long as their copies anyway). A read served from memory then costs no SHA-256 (see KeyHashMemo).
    private readonly KeyHashMemo? _tags;

    public RedisSessionNearCache(IOptions<RedisSessionOptions> options, TimeProvider timeProvider)
    {
        var value = options.Value;
        var near = value.NearCache;
        Enabled = near.Enabled;
        _maxEntries = near.MaxEntries;
        _maxBytes = near.MaxBytes;
        _timeProvider = timeProvider;
        _staleness = ToTimestamp(near.MaxStaleness);
        _slideInterval = ToTimestamp(value.IdleTimeout * near.SlideFraction);
        if (Enabled)
        {
            _tags = new KeyHashMemo(capacity: Math.Max(near.MaxEntries, 1024), maxLength: 256);
        }
    }

    /// <summary>What a lookup found.</summary>
    public enum Lookup
    {
        /// <summary>No usable copy: load from Redis (and slide).</summary>
        Miss,

        /// <summary>A current copy: serve it, no Redis call.</summary>
        Hit,

        /// <summary>A copy not verified for <c>MaxStaleness</c>: ask Redis whether it is still current (no slide).</summary>
        Verify,

        /// <summary>A copy whose idle timeout is due to slide: verify and slide in one call.</summary>
        Slide,
    }

    public bool Enabled { get; }

    /// <summary>Whether the cache may serve and accept copies (the subscription is verified live).</summary>
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

    /// <summary>Invalidation messages and local invalidations processed (for tests that wait for propagation).</summary>
    public long Invalidations => Interlocked.Read(ref _invalidations);

    /// <summary>Lookups served from memory without a Redis call (for tests).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Slides sent for copies served from memory (for tests that count them).</summary>
    public long Slides => Interlocked.Read(ref _slides);

    public long Now => _timeProvider.GetTimestamp();

    /// <summary>
    /// The hash tag of the session id <paramref name="id"/>. With the near cache on, an id seen lately gets the string
    /// made for it then (no SHA-256, no new string); otherwise the tag is hashed and made.
    /// </summary>
    public string TagOf(ReadOnlySpan<char> id)
    {
        if (_tags is not null && _tags.TryGet(id, out var known))
        {
            return known;
        }

        Span<char> chars = stackalloc char[RedisKeyBuilder.HashLength];
        RedisKeyBuilder.Hash(id, chars);
        var tag = new string(chars);
        _tags?.Add(id, tag);
        return tag;
    }

    /// <summary>Taken before the Redis read whose result may be added; see <see cref="Store"/>.</summary>
    public NearCacheFence.Token Snapshot(string tag)
    {
        lock (_gate)
        {
            return _fence.Snapshot(tag);
        }
    }

    /// <summary>
    /// Finds the copy of <paramref name="tag"/> at <paramref name="minVersion"/> or later (the version the client
    /// carries: read-your-writes) and says what it takes to serve it.
    /// </summary>
    public Lookup Find(string tag, long minVersion, out Entry entry)
    {
        entry = null!;
        if (!Enabled)
        {
            return Lookup.Miss;
        }

        var now = Now;
        lock (_gate)
        {
            if (!_fence.IsLive || !_items.TryGetValue(tag, out var node))
            {
                return Lookup.Miss;
            }

            var found = node.Value;
            if (now >= found.ExpiresAt)
            {
                // Redis may have let it idle out (or its absolute lifetime ended): never served past that point.
                Remove(node);
                return Lookup.Miss;
            }

            if (found.Version < minVersion)
            {
                // The client wrote through another instance since this copy was read.
                return Lookup.Miss;
            }

            _lru.Remove(node);
            _lru.AddFirst(node);
            entry = found;
            if (now - found.SlidAt >= _slideInterval)
            {
                return Lookup.Slide;
            }

            if (now - found.VerifiedAt >= _staleness)
            {
                return Lookup.Verify;
            }

            _hits++;
            return Lookup.Hit;
        }
    }

    /// <summary>Counts a slide sent for a copy (<see cref="Lookup.Slide"/>).</summary>
    public void CountSlide() => Interlocked.Increment(ref _slides);

    /// <summary>
    /// Stores what a Redis read returned at local time <paramref name="readAt"/> (taken before the call) with
    /// <paramref name="ttlMilliseconds"/> left, unless the tag was invalidated or the subscription dropped since
    /// <paramref name="token"/> was taken. <paramref name="slid"/>: the read slid the idle timeout.
    /// </summary>
    public void Store(string tag, NearCacheFence.Token token, RedisSessionRecord record, long readAt, long ttlMilliseconds, bool slid, long? previousSlide = null)
    {
        if (!Enabled || ttlMilliseconds <= 0)
        {
            return;
        }

        var size = SizeOf(record.Data);
        if (size > _maxBytes)
        {
            return;
        }

        var expiresAt = readAt + ToTimestamp(TimeSpan.FromMilliseconds(ttlMilliseconds));
        lock (_gate)
        {
            if (!_fence.Admits(token, tag, record.Version))
            {
                return;
            }

            if (_items.TryGetValue(tag, out var existing))
            {
                if (existing.Value.Version > record.Version)
                {
                    return;
                }

                Remove(existing);
            }

            var entry = new Entry(tag, record, size, expiresAt, readAt, slid ? readAt : previousSlide ?? readAt);
            _items[tag] = _lru.AddFirst(entry);
            _bytes += size;
            while ((_items.Count > _maxEntries || _bytes > _maxBytes) && _lru.Last is { } last)
            {
                Remove(last);
            }
        }
    }

    /// <summary>
    /// Redis confirmed at local time <paramref name="readAt"/> that <paramref name="entry"/> is still current, with
    /// <paramref name="ttlMilliseconds"/> left. Ignored if the copy was replaced, invalidated or dropped meanwhile.
    /// </summary>
    public void Confirm(Entry entry, NearCacheFence.Token token, long readAt, long ttlMilliseconds, bool slid)
    {
        if (ttlMilliseconds <= 0)
        {
            return;
        }

        var expiresAt = readAt + ToTimestamp(TimeSpan.FromMilliseconds(ttlMilliseconds));
        lock (_gate)
        {
            if (!_fence.Admits(token, entry.Tag, entry.Version) ||
                !_items.TryGetValue(entry.Tag, out var node) || node.Value != entry)
            {
                return;
            }

            entry.ExpiresAt = expiresAt;
            entry.VerifiedAt = readAt;
            if (slid)
            {
                entry.SlidAt = readAt;
            }
        }
    }

    /// <summary>
    /// Drops the copy of <paramref name="tag"/> if it is older than <paramref name="version"/>, or whatever its version
    /// when <paramref name="version"/> is <see langword="null"/> (the session was deleted).
    /// </summary>
    public void Invalidate(string tag, long? version)
    {
        Interlocked.Increment(ref _invalidations);
        if (!Enabled)
        {
            return;
        }

        lock (_gate)
        {
            _fence.Invalidate(tag, version);
            if (_items.TryGetValue(tag, out var node) && (version is null || node.Value.Version < version))
            {
                Remove(node);
            }
        }
    }

    /// <summary>A message from the invalidation channel: <c>"&lt;tag&gt; &lt;version&gt;"</c> (commit) or <c>"&lt;tag&gt;"</c> (deleted).</summary>
    public void OnMessage(string message)
    {
        var space = message.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0)
        {
            Invalidate(message, null);
        }
        else if (long.TryParse(message.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version))
        {
            Invalidate(message[..space], version);
        }
        else
        {
            Invalidate(message[..space], null);
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
            _fence.Resume(live: Enabled);
            Clear();
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _items.Remove(node.Value.Tag);
        _lru.Remove(node);
        _bytes -= node.Value.Size;
    }

    private void Clear()
    {
        _items.Clear();
        _lru.Clear();
        _bytes = 0;
    }

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * _timeProvider.TimestampFrequency);

    private static long SizeOf(Dictionary<string, byte[]> data)
    {
        long size = 0;
        foreach (var (key, value) in data)
        {
            size += Encoding.UTF8.GetByteCount(key) + value.Length;
        }

        return size;
    }

    /// <summary>One held session. The record is never mutated; the timestamps change only under the cache's lock.</summary>
    internal sealed class Entry(string tag, RedisSessionRecord record, long size, long expiresAt, long verifiedAt, long slidAt)
    {
        public string Tag { get; } = tag;

        public RedisSessionRecord Record { get; } = record;

        public long Version => Record.Version;

        public long Size { get; } = size;

        /// <summary>Local timestamp from which Redis may no longer hold the session (idle or absolute expiry).</summary>
        public long ExpiresAt { get; set; } = expiresAt;

        public long VerifiedAt { get; set; } = verifiedAt;

        public long SlidAt { get; set; } = slidAt;
    }
}
