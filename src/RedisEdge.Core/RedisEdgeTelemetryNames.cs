namespace RedisEdge;

/// <summary>
/// Names of the <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/>
/// of each RedisEdge feature. A feature's meter and activity source share its name.
/// </summary>
public static class RedisEdgeTelemetryNames
{
    /// <summary>Core: connection health and shared script calls.</summary>
    public const string Core = "RedisEdge.Core";

    /// <summary>Distributed sessions.</summary>
    public const string Sessions = "RedisEdge.Sessions";

    /// <summary>Fleet-wide rate limiting.</summary>
    public const string RateLimiting = "RedisEdge.RateLimiting";

    /// <summary>Idempotency-key replay.</summary>
    public const string Idempotency = "RedisEdge.Idempotency";

    /// <summary>Fleet-wide response caching.</summary>
    public const string ResponseCaching = "RedisEdge.ResponseCaching";

    /// <summary>Every name above, for telemetry registration.</summary>
    public static IReadOnlyList<string> All { get; } = [Core, Sessions, RateLimiting, Idempotency, ResponseCaching];
}
