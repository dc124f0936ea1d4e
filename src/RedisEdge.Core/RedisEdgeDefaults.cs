namespace RedisEdge;

/// <summary>
/// Default values shared by RedisEdge features.
/// </summary>
public static class RedisEdgeDefaults
{
    /// <summary>The configuration section RedisEdge binds by default: <c>RedisEdge</c>.</summary>
    public const string ConfigurationSectionName = "RedisEdge";

    /// <summary>The default key prefix: <c>re</c>.</summary>
    public const string KeyPrefix = "re";

    /// <summary>The default per-call timeout budget of a Redis script call: 500 ms.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(500);

    /// <summary>The default number of consecutive failures that opens the circuit breaker: 5.</summary>
    public const int BreakAfterFailures = 5;

    /// <summary>The default time the circuit breaker stays open before it lets one probe call through: 5 s.</summary>
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5);

    /// <summary>The default health-check timeout: 2 s.</summary>
    public static readonly TimeSpan HealthCheckTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The default latency above which the health check reports degraded: 250 ms.</summary>
    public static readonly TimeSpan HealthCheckDegradedLatency = TimeSpan.FromMilliseconds(250);
}
