namespace RedisEdge.Sessions.Internal;

/// <summary>One near-cache read from Redis: what was held before it, and the snapshot that guards storing its result.</summary>
internal readonly struct RedisSessionNearRead
{
    private readonly RedisSessionNearCache _near;
    private readonly string _tag;
    private readonly RedisSessionNearCache.Lookup _lookup;
    private readonly RedisSessionNearCache.Entry? _copy;
    private readonly RedisSessionNearCache.Token _token;
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

    /// <summary>Updates the cache with what Redis answered and returns this request's private record of it.</summary>
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
            return Private(_copy!.Record);
        }

        _near.Store(_tag, _token, fetch.Record, _sentAt, fetch.TtlMilliseconds, Slide, previousSlide: _copy?.SlidAt);
        return Private(fetch.Record);
    }

    /// <summary>The request's own dictionary over the shared values (which are copied out on every read).</summary>
    public static RedisSessionRecord Private(RedisSessionRecord shared) => new()
    {
        Data = new Dictionary<string, byte[]>(shared.Data, StringComparer.Ordinal),
        CreatedAt = shared.CreatedAt,
        AbsoluteExpiry = shared.AbsoluteExpiry,
        UserTag = shared.UserTag,
        Version = shared.Version,
    };
}
