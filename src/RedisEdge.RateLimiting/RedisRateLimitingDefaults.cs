namespace RedisEdge.RateLimiting;

/// <summary>Names and defaults of RedisEdge rate limiting.</summary>
public static class RedisRateLimitingDefaults
{
    /// <summary>The configuration section under <c>RedisEdge</c>: <c>RateLimiting</c>.</summary>
    public const string SectionName = "RateLimiting";

    /// <summary>The key feature token: keys look like <c>{prefix}:rl:{{tag}}:{policy}:{algorithm}</c>.</summary>
    internal const string KeyFeature = "rl";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/> name.</summary>
    public const string MeterName = RedisEdgeTelemetryNames.RateLimiting;

    /// <summary>
    /// Counter of rate-limited requests, one per policy that decided each request, tagged by policy and result (as
    /// <c>aspnetcore.rate_limiting.requests</c>); the shape every RedisEdge feature's <c>requests</c> counter follows.
    /// </summary>
    public const string RequestsInstrument = "redisedge.rate_limiting.requests";

    /// <summary>Histogram of the time, in seconds, from a policy's decision starting to its result (the Redis call, or
    /// none for a request decided in memory), tagged like <see cref="RequestsInstrument"/>.</summary>
    public const string RequestDurationInstrument = "redisedge.rate_limiting.request.duration";

    /// <summary>Histogram of the time GCRA-queued requests waited, in seconds.</summary>
    public const string QueueDelayInstrument = "redisedge.rate_limiting.queue_delay";

    /// <summary>
    /// Counter of reservations given back (per policy) because a request whose policies span Redis Cluster slots was
    /// rejected or failed in another slot, tagged by policy and outcome.
    /// </summary>
    public const string RefundsInstrument = "redisedge.rate_limiting.refunds";

    /// <summary>
    /// Histogram of the requests one script call decided when hot-partition coalescing is on: 1 for a request that found
    /// its partition idle, more for the requests that queued while a call for the same partition was in flight.
    /// </summary>
    public const string CoalescedRequestsInstrument = "redisedge.rate_limiting.coalesced_requests";

    /// <summary>The outcome tag of the refunds counter: <c>success</c>, or why the refund failed (<c>timeout</c>, ...), as Core's script instruments say it.</summary>
    public const string OutcomeTag = "redisedge.outcome";

    /// <summary>The policy tag of the instruments.</summary>
    public const string PolicyTag = "redisedge.rate_limiting.policy";

    /// <summary>The result tag of the requests counter and duration histogram (snake_case values).</summary>
    public const string ResultTag = "redisedge.rate_limiting.result";

    /// <summary>IETF <c>RateLimit-Policy</c> field name.</summary>
    public const string RateLimitPolicyHeader = "RateLimit-Policy";

    /// <summary>IETF <c>RateLimit</c> field name.</summary>
    public const string RateLimitHeader = "RateLimit";

    /// <summary>The default IPv4 prefix length of an IP partition: 32, one address.</summary>
    public const int IPv4PrefixLength = 32;

    /// <summary>The default IPv6 prefix length of an IP partition: 64, the network one host usually gets.</summary>
    public const int IPv6PrefixLength = 64;

    /// <summary>The problem type of a 429 (draft-ietf-httpapi-ratelimit-headers, "Quota Exceeded").</summary>
    public const string QuotaExceededProblemType = "https://iana.org/assignments/http-problem-types#quota-exceeded";

    /// <summary>The problem-details member listing the policies whose quota was exceeded.</summary>
    public const string ViolatedPoliciesMember = "violated-policies";

    /// <summary>The default concurrency lease time-to-live: 60 s.</summary>
    public static readonly TimeSpan LeaseTimeToLive = TimeSpan.FromSeconds(60);
}
