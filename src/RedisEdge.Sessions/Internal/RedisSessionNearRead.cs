using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>One near-cache read from Redis: what was held before it, and the snapshot that guards storing its result.</summary>
internal readonly struct RedisSessionNearRead
{
    private readonly RedisSessionNearCache _near;
    private readonly string _tag;
    private readonly RedisSessionNearCache.Lookup _lookup;
    private readonly RedisSessionNearCache.Entry? _copy;
    private readonly NearCacheFence.Token _token;
    private readonly long _sentAt;

    private RedisSessionNearRead(RedisSessionNearCache near, string tag, RedisSessionNearCache.Lookup lookup, RedisSessionNearCache.Entry? copy)
    {
        _near = near;
        _tag = tag;
        _lookup = lookup;
        _copy = copy;
        _token = near.Snapshot(tag);
        _sentAt = near.Now;
    }

    /// <summary>A miss loads and slides, as the load without a near cache does; a held copy slides only when due.</summary>
    public bool Slide => _lookup != RedisSessionNearCache.Lookup.Verify;

    public long KnownVersion => _copy?.Version ?? -1;

    public static RedisSessionNearRead Begin(RedisSessionNearCache near, string tag, RedisSessionNearCache.Lookup lookup, RedisSessionNearCache.Entry? copy)
        => new(near, tag, lookup, lookup == RedisSessionNearCache.Lookup.Miss ? null : copy);

    /// <summary>
    /// Updates the cache with what Redis answered and returns the record, which may be the one the cache holds: the
    /// request reads it without changing it (<see cref="RedisSessionData"/> copies values out, and its own values
    /// before its first change).
    /// </summary>
    public RedisSessionRecord? Complete(RedisSessionFetch? fetch)
    {
        if (_lookup == RedisSessionNearCache.Lookup.Slide)
        {
            _near.CountSlide();
        }

        if (fetch is null)
        {
            _near.Invalidate(_tag, null);
            return null;
        }

        if (fetch.Record is null)
        {
            // Still at the held version: the copy is current as of this read.
            _near.Confirm(_copy!, _token, _sentAt, fetch.TtlMilliseconds, Slide);
            return _copy!.Record;
        }

        _near.Store(_tag, _token, fetch.Record, _sentAt, fetch.TtlMilliseconds, Slide, previousSlide: _copy?.SlidAt);
        return fetch.Record;
    }
}
