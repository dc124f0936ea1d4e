namespace RedisEdge.ResponseCaching;

/// <summary>Names and defaults of RedisEdge response caching.</summary>
public static class RedisResponseCachingDefaults
{
    /// <summary>The configuration section under <c>RedisEdge</c>: <c>ResponseCaching</c>.</summary>
    public const string SectionName = "ResponseCaching";

    /// <summary>The key feature token: keys look like <c>{prefix}:rc:{{policy hash}}:e:{variant hash}</c>.</summary>
    internal const string KeyFeature = "rc";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/> name.</summary>
    public const string MeterName = RedisEdgeTelemetryNames.ResponseCaching;

    /// <summary>The cache name in <c>Cache-Status</c> (RFC 9211).</summary>
    public const string CacheName = "RedisEdge";

    /// <summary>The <c>Cache-Status</c> field name (RFC 9211).</summary>
    public const string CacheStatusHeader = "Cache-Status";

    /// <summary>Counter of GET and HEAD requests to cached endpoints, tagged by policy and result.</summary>
    public const string RequestsInstrument = "redisedge.response_caching.requests";

    /// <summary>Histogram of the time from the middleware receiving a request to its decision (served, forwarded or bypassed), in seconds.</summary>
    public const string RequestDurationInstrument = "redisedge.response_caching.request.duration";

    /// <summary>The result tag of the requests counter and duration histogram (snake_case values).</summary>
    public const string ResultTag = "redisedge.response_caching.result";

    /// <summary>Counter of responses served from Redis while fresh.</summary>
    public const string HitsInstrument = "redisedge.response_caching.hits";

    /// <summary>Counter of responses served from the in-process near cache.</summary>
    public const string NearCacheHitsInstrument = "redisedge.response_caching.near_cache.hits";

    /// <summary>Counter of requests forwarded to the origin because no usable entry existed.</summary>
    public const string MissesInstrument = "redisedge.response_caching.misses";

    /// <summary>Counter of stale responses served, tagged by reason.</summary>
    public const string StaleServedInstrument = "redisedge.response_caching.stale_served";

    /// <summary>Counter of origin executions under a fill lease, tagged by outcome.</summary>
    public const string FillsInstrument = "redisedge.response_caching.fills";

    /// <summary>Counter of requests that waited for another request's fill, tagged by outcome.</summary>
    public const string CoalescedWaitsInstrument = "redisedge.response_caching.coalesced_waits";

    /// <summary>Counter of entries evicted through <see cref="IRedisResponseCache"/>.</summary>
    public const string EvictionsInstrument = "redisedge.response_caching.evictions";

    /// <summary>Histogram of the body size of stored entries.</summary>
    public const string StoredBytesInstrument = "redisedge.response_caching.stored_bytes";

    /// <summary>Counter of requests that skipped the cache, tagged by reason.</summary>
    public const string BypassesInstrument = "redisedge.response_caching.bypasses";

    /// <summary>The policy tag of the instruments.</summary>
    public const string PolicyTag = "redisedge.response_caching.policy";

    /// <summary>The reason tag (stale served, bypasses).</summary>
    public const string ReasonTag = "redisedge.response_caching.reason";

    /// <summary>The outcome tag (fills, coalesced waits).</summary>
    public const string OutcomeTag = "redisedge.response_caching.outcome";

    /// <summary>The eviction kind tag: <c>tag</c> or <c>resource</c>.</summary>
    public const string EvictionKindTag = "redisedge.response_caching.eviction_kind";

    /// <summary>The default time to live: 60 s.</summary>
    public static readonly TimeSpan Expire = TimeSpan.FromSeconds(60);

    /// <summary>The default longest body stored: 1 MiB.</summary>
    public const long MaximumBodySize = 1024 * 1024;

    /// <summary>
    /// The default lifetime of a fill lease without renewal: 3 s. The filler renews it every third of that while the
    /// origin runs, so only a filler that died (or cannot reach Redis) loses it, and one waiting request takes over.
    /// </summary>
    public static readonly TimeSpan FillLeaseTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long an eviction is kept on record to fence fills that began before it: 10 minutes. A fill that runs longer
    /// than this is served but not stored.
    /// </summary>
    public static readonly TimeSpan EvictionFence = TimeSpan.FromMinutes(10);

    /// <summary>Default most entries a policy keeps in Redis.</summary>
    public const int MaxEntries = 10_000;

    /// <summary>Default most bytes a policy keeps in Redis: 64 MiB.</summary>
    public const long MaxBytes = 64L * 1024 * 1024;

    /// <summary>The default longest a request waits for another request's fill: 5 s.</summary>
    public static readonly TimeSpan FillWaitTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How often a waiting request asks Redis again when no pub/sub wake-up arrived: 200 ms.</summary>
    public static readonly TimeSpan FillWaitPollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest pass marker after an uncacheable or failed fill: 5 s (shorter when the time to live is).</summary>
    public static readonly TimeSpan MaxPassDuration = TimeSpan.FromSeconds(5);

    /// <summary>The default number of entries the near cache holds: 1000.</summary>
    public const int NearCacheMaxEntries = 1000;

    /// <summary>The default largest body the near cache holds: 256 KiB.</summary>
    public const long NearCacheMaxEntrySize = 256 * 1024;
}
