namespace RedisEdge.Sessions;

/// <summary>
/// The optional in-process near cache of sessions (<c>RedisEdge:Sessions:NearCache</c>): a request whose session this
/// instance holds fresh reads it without a Redis call. Read-your-writes holds across instances (the client carries the
/// version its last write produced), other writers and logouts reach every instance through pub/sub, and no copy is
/// served unverified for longer than <see cref="MaxStaleness"/>. See docs/sessions.md, "Near cache".
/// </summary>
public sealed class RedisSessionNearCacheOptions
{
    /// <summary>Whether the near cache is on. Default <see langword="false"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>The most sessions held per instance (least recently used go first). Default 10,000.</summary>
    public int MaxEntries { get; set; } = RedisSessionDefaults.NearCacheMaxEntries;

    /// <summary>
    /// The most bytes of session data (keys and values) held per instance (least recently used go first); a session
    /// larger than this is never held. Default 64 MiB.
    /// </summary>
    public long MaxBytes { get; set; } = RedisSessionDefaults.NearCacheMaxBytes;

    /// <summary>
    /// How long a copy may be served without asking Redis whether it is still current. Bounds how late a change or a
    /// logout is seen when an invalidation message is lost, and how long a copy may be served while Redis is
    /// unreachable before the connection loss is noticed. Default 1 second.
    /// </summary>
    public TimeSpan MaxStaleness { get; set; } = RedisSessionDefaults.NearCacheMaxStaleness;

    /// <summary>
    /// The idle timeout is slid in Redis at most once per <c>SlideFraction × IdleTimeout</c> per session and instance
    /// by requests served from the near cache, so a session may end up to that much earlier than its last request
    /// plus <c>IdleTimeout</c>. Between 0 (exclusive) and 0.5. Default 0.1.
    /// </summary>
    public double SlideFraction { get; set; } = RedisSessionDefaults.NearCacheSlideFraction;
}
