using Microsoft.Extensions.Logging;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Rate limiting logs, event ids 3000-3999 (the scheme is in docs/telemetry.md).</summary>
/// <remarks>
/// Nothing here is logged above Debug once per request: during an outage Core's script runner logs each breaker
/// transition once and the requests counter counts <c>redis_error</c>; an undefined policy is reported once per
/// endpoint and configuration.
/// </remarks>
internal static partial class Log
{
    [LoggerMessage(3000, LogLevel.Debug, "Rate limiting could not reach Redis for policies {Policies}; the request was {Outcome} ({Mode}).", EventName = "RedisFailed")]
    public static partial void RedisFailed(ILogger logger, string policies, string outcome, string mode, Exception exception);

    [LoggerMessage(3001, LogLevel.Warning, "Endpoint '{Endpoint}' names rate-limit policy '{Policy}', which is no longer defined; it is skipped. Reported once per endpoint until the configuration changes.", EventName = "UnknownPolicy")]
    public static partial void UnknownPolicy(ILogger logger, string? endpoint, string policy);

    [LoggerMessage(3002, LogLevel.Debug, "Request rejected by rate-limit policies {Policies}; retry after {RetryAfterMs} ms.", EventName = "Rejected")]
    public static partial void Rejected(ILogger logger, string policies, long retryAfterMs);

    [LoggerMessage(3004, LogLevel.Error, "A configuration reload was refused: it no longer defines rate-limit policies that endpoints use: {Policies}. The previous policies stay in force until a configuration defines them again (or the endpoints stop naming them).", EventName = "ReloadRefused")]
    public static partial void ReloadRefused(ILogger logger, string policies);

    [LoggerMessage(3003, LogLevel.Debug, "Clean-up script {Script} failed: released leases expire on their own, a refunded reservation stays until its window passes.", EventName = "CleanupFailed")]
    public static partial void CleanupFailed(ILogger logger, string script, Exception exception);
}
