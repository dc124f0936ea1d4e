namespace RedisEdge.ResponseCaching;

/// <summary>
/// One named cache policy (<c>RedisEdge:ResponseCaching:Policies:&lt;name&gt;</c>).
/// </summary>
public sealed class RedisResponseCachePolicyOptions
{
    /// <summary>How long an entry is fresh. Default 60 s.</summary>
    public TimeSpan Expire { get; set; } = RedisResponseCachingDefaults.Expire;

    /// <summary>
    /// How long after <see cref="Expire"/> a stale entry is still served at once while one request in the fleet
    /// refreshes it in the background. Default zero (off).
    /// </summary>
    public TimeSpan StaleWhileRevalidate { get; set; }

    /// <summary>
    /// How long after <see cref="Expire"/> a stale entry is served instead of an origin failure (the handler
    /// throws or answers 5xx). Default zero (off).
    /// </summary>
    public TimeSpan StaleIfError { get; set; }

    /// <summary>
    /// Query keys that select a variant (case-insensitive). Empty (the default) = every query key: the whole query
    /// string, order-insensitive, is part of the cache key, so no two URLs that differ share an entry.
    /// </summary>
    public List<string> VaryByQueryKeys { get; set; } = [];

    /// <summary>Request headers that select a variant (e.g. <c>Accept-Language</c>).</summary>
    public List<string> VaryByHeaderNames { get; set; } = [];

    /// <summary>
    /// Route values that select a variant. The path is always part of the key, so this matters only for route values
    /// that do not come from the path.
    /// </summary>
    public List<string> VaryByRouteValueNames { get; set; } = [];

    /// <summary>
    /// Caches per user: the user's id (<c>NameIdentifier</c> or <c>sub</c> claim) selects the variant. Only a policy
    /// that varies by user serves and stores responses for requests with an <c>Authorization</c> header or an
    /// authenticated user; such a request without a user id is never cached. Default <see langword="false"/>.
    /// </summary>
    public bool VaryByUser { get; set; }

    /// <summary>Claim types whose values select a variant (e.g. a tenant claim). Implies <see cref="VaryByUser"/>'s
    /// acceptance of authenticated requests only when <see cref="VaryByUser"/> is set.</summary>
    public List<string> VaryByClaim { get; set; } = [];

    /// <summary>
    /// Tags stored with every entry, for <see cref="IRedisResponseCache.EvictByTagAsync"/>: constants (<c>products</c>)
    /// or templates over route values (<c>product:{id}</c>).
    /// </summary>
    public List<string> Tags { get; set; } = [];

    /// <summary>The largest body stored; larger responses are streamed to the client and not cached. Default 1 MiB.</summary>
    public long MaximumBodySize { get; set; } = RedisResponseCachingDefaults.MaximumBodySize;

    /// <summary>
    /// Whether this policy's entries may be held in the near cache when <c>NearCache:Enabled</c> is on. Default
    /// <see langword="true"/>; turn it off for a policy whose evictions must be seen by other instances at once.
    /// </summary>
    public bool NearCache { get; set; } = true;

    /// <summary>
    /// The most entries this policy keeps in Redis; past it, the entries that would expire first are deleted, so
    /// cache-busting query strings cannot grow Redis without bound. Default 10 000.
    /// </summary>
    public int MaxEntries { get; set; } = RedisResponseCachingDefaults.MaxEntries;

    /// <summary>
    /// The most bytes (bodies and headers) this policy keeps in Redis; past it, the entries that would expire first
    /// are deleted. Default 64 MiB.
    /// </summary>
    public long MaxBytes { get; set; } = RedisResponseCachingDefaults.MaxBytes;

    /// <summary>Status codes that are stored. Empty (the default) = <c>200</c> only.</summary>
    public List<int> StatusCodes { get; set; } = [];
}
