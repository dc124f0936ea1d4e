namespace RedisEdge;

/// <summary>
/// Connection and key-naming options (<c>RedisEdge:Redis</c>).
/// </summary>
public sealed class RedisEdgeRedisOptions
{
    /// <summary>
    /// A StackExchange.Redis configuration string, for example <c>localhost:6379</c>.
    /// Required unless the application registers an <c>IConnectionMultiplexer</c> in DI, which RedisEdge then uses.
    /// When RedisEdge creates the connection it forces <c>abortConnect=false</c> so the app starts while Redis is down.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// Prefix of every Redis key RedisEdge writes (letters, digits, <c>_ . -</c>; at most 32 characters).
    /// Lets several applications share one Redis. Default <c>re</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = RedisEdgeDefaults.KeyPrefix;

    /// <summary>
    /// How long the health check waits for <c>PING</c> before it reports Redis unhealthy. Default 2 seconds.
    /// </summary>
    public TimeSpan HealthCheckTimeout { get; set; } = RedisEdgeDefaults.HealthCheckTimeout;

    /// <summary>
    /// Latency above which the health check reports <c>Degraded</c> instead of <c>Healthy</c>. Default 250 ms.
    /// </summary>
    public TimeSpan HealthCheckDegradedLatency { get; set; } = RedisEdgeDefaults.HealthCheckDegradedLatency;
}
