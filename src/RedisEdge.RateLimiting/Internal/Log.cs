using Microsoft.Extensions.Logging;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Rate limiting logs, event ids 3000-3999 (the scheme is in docs/telemetry.md).</summary>
/// <remarks>
/// Nothing here is logged above Debug once per request: during an outage Core's script runner logs each breaker
/// transition once, Core's failure responder logs each request at Debug, and the requests counter counts
/// <c>redis_error</c>; Core's policy provider reports an undefined policy once per endpoint.
/// </remarks>
internal static partial class Log
{
    [LoggerMessage(3002, LogLevel.Debug, "Request rejected by rate-limit policies {Policies}; retry after {RetryAfterMs} ms.", EventName = "Rejected")]
    public static partial void Rejected(ILogger logger, string policies, long retryAfterMs);

    [LoggerMessage(3003, LogLevel.Debug, "Clean-up script {Script} failed: released leases expire on their own, a refunded reservation stays until its window passes.", EventName = "CleanupFailed")]
    public static partial void CleanupFailed(ILogger logger, string script, Exception exception);
}
