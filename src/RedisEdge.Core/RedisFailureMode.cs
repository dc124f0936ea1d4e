namespace RedisEdge;

/// <summary>
/// What a feature does with a request when Redis cannot answer in time.
/// </summary>
public enum RedisFailureMode
{
    /// <summary>Let the request through as if the feature were absent, and log and count the failure.</summary>
    FailOpen,

    /// <summary>Refuse the request with a clear error (usually <c>503 Service Unavailable</c>).</summary>
    FailClosed,

    /// <summary>
    /// Rate limiting only: enforce the limit in each instance's memory, at the instance's share of it, until Redis
    /// answers again. Features without a local equivalent refuse this mode at start-up.
    /// </summary>
    LocalFallback,
}
