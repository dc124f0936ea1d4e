namespace RedisEdge.Sessions;

/// <summary>Default values, names and instrument names of RedisEdge sessions.</summary>
public static class RedisSessionDefaults
{
    /// <summary>The configuration section under <c>RedisEdge</c>: <c>RedisEdge:Sessions</c>.</summary>
    public const string ConfigurationSectionName = "Sessions";

    /// <summary>The default session cookie name.</summary>
    public const string CookieName = ".RedisEdge.Session";

    /// <summary>The key segment every session key starts with: <c>{prefix}:sessions:</c>.</summary>
    internal const string KeyFeature = "sessions";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> and activity source name.</summary>
    public const string MeterName = RedisEdgeTelemetryNames.Sessions;

    /// <summary>Default sliding idle timeout: 20 minutes (the same as <c>Microsoft.AspNetCore.Session</c>).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(20);

    /// <summary>Default absolute lifetime: 12 hours, however active the session is.</summary>
    public static readonly TimeSpan AbsoluteLifetime = TimeSpan.FromHours(12);

    /// <summary>Counter of session loads (at most one per request), tagged by result.</summary>
    public const string RequestsInstrument = "redisedge.sessions.requests";

    /// <summary>Histogram of the time a session load took, in seconds, tagged by result.</summary>
    public const string RequestDurationInstrument = "redisedge.sessions.request.duration";

    /// <summary>The result tag of the requests counter and duration histogram (snake_case values).</summary>
    public const string ResultTag = "redisedge.sessions.result";

    /// <summary>Counter of sessions created in Redis (first write of a new session).</summary>
    public const string CreatedInstrument = "redisedge.sessions.created";

    /// <summary>Counter of sessions loaded (and slid) from Redis, tagged with <see cref="LoadPathTag"/>.</summary>
    public const string LoadedInstrument = "redisedge.sessions.loaded";

    /// <summary>
    /// Tag of <see cref="LoadedInstrument"/>: <c>eager</c>, <c>on_demand</c> or <c>blocking</c> (a synchronous first
    /// touch in <see cref="RedisSessionLoadMode.Lazy"/> mode that held a thread while Redis answered).
    /// </summary>
    public const string LoadPathTag = "redisedge.sessions.load_path";

    /// <summary>Counter of commits that wrote changes to a live session.</summary>
    public const string CommittedInstrument = "redisedge.sessions.committed";

    /// <summary>Counter of requests whose well-formed session id named no live session (expired, destroyed or unknown).</summary>
    public const string ExpiredOnArrivalInstrument = "redisedge.sessions.expired_on_arrival";

    /// <summary>Counter of sessions destroyed by the application (logout).</summary>
    public const string DestroyedInstrument = "redisedge.sessions.destroyed";

    /// <summary>Counter of sessions revoked through a user (revoke-all, single revoke, per-user limit).</summary>
    public const string RevokedInstrument = "redisedge.sessions.revoked";

    /// <summary>Counter of session loads served from the in-process near cache, without a Redis call.</summary>
    public const string NearCacheHitsInstrument = "redisedge.sessions.near_cache.hits";

    /// <summary>Default <see cref="RedisSessionNearCacheOptions.MaxEntries"/>: 10,000 sessions.</summary>
    public const int NearCacheMaxEntries = 10_000;

    /// <summary>Default <see cref="RedisSessionNearCacheOptions.MaxBytes"/>: 64 MiB.</summary>
    public const long NearCacheMaxBytes = 64L * 1024 * 1024;

    /// <summary>Default <see cref="RedisSessionNearCacheOptions.SlideFraction"/>: 0.1 of the idle timeout.</summary>
    public const double NearCacheSlideFraction = 0.1;

    /// <summary>Default <see cref="RedisSessionNearCacheOptions.MaxStaleness"/>: 1 second.</summary>
    public static readonly TimeSpan NearCacheMaxStaleness = TimeSpan.FromSeconds(1);
}
