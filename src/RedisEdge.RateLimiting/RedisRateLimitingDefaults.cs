namespace RedisEdge.RateLimiting;

/// <summary>Names and defaults of RedisEdge rate limiting.</summary>
public static class RedisRateLimitingDefaults
{
    /// <summary>The configuration section under <c>RedisEdge</c>: <c>RateLimiting</c>.</summary>
    public const string SectionName = "RateLimiting";

    /// <summary>The key feature token: keys look like <c>{prefix}:rl:{{tag}}:{policy}:{algorithm}</c>.</summary>
    public const string KeyFeature = "rl";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/> name.</summary>
    public const string MeterName = RedisEdgeTelemetryNames.RateLimiting;

    /// <summary>Counter of decisions, tagged by policy and result.</summary>
    public const string DecisionsInstrument = "redisedge.rate_limiting.decisions";

    /// <summary>Histogram of the time GCRA-queued requests waited, in seconds.</summary>
    public const string QueueDelayInstrument = "redisedge.rate_limiting.queue_delay";

    /// <summary>The policy tag of the instruments.</summary>
    public const string PolicyTag = "redisedge.rate_limiting.policy";

    /// <summary>The result tag of the decisions counter.</summary>
    public const string ResultTag = "redisedge.rate_limiting.result";

    /// <summary>IETF <c>RateLimit-Policy</c> field name.</summary>
    public const string RateLimitPolicyHeader = "RateLimit-Policy";

    /// <summary>IETF <c>RateLimit</c> field name.</summary>
    public const string RateLimitHeader = "RateLimit";

    /// <summary>The default concurrency lease time-to-live: 60 s.</summary>
    public static readonly TimeSpan LeaseTimeToLive = TimeSpan.FromSeconds(60);
}
