using Microsoft.Extensions.Logging;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Response caching logs, event ids 5000-5999 (the scheme is in docs/telemetry.md).</summary>
/// <remarks>
/// During a Redis outage every cached request fails its lookup; those failures are Debug and counted in
/// <c>redisedge.response_caching.bypasses</c>, and the breaker logs its transitions once.
/// </remarks>
internal static partial class Log
{
    [LoggerMessage(5002, LogLevel.Debug, "Storing a response for policy '{Policy}' failed; it was served but not cached.", EventName = "FillFailed")]
    public static partial void FillFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(5003, LogLevel.Warning, "Background refresh for policy '{Policy}' failed; the stale entry stays until it expires or a later refresh succeeds.", EventName = "RefreshFailed")]
    public static partial void RefreshFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(5004, LogLevel.Warning, "The response-cache invalidation subscription is down; the near cache serves nothing until it has resynchronised. Logged again only after it has been restored.", EventName = "SubscriptionLost")]
    public static partial void SubscriptionLost(ILogger logger);

    [LoggerMessage(5005, LogLevel.Information, "The response-cache invalidation subscription is live again; the near cache was cleared and resumes.", EventName = "SubscriptionRestored")]
    public static partial void SubscriptionRestored(ILogger logger);

    [LoggerMessage(5006, LogLevel.Warning, "Subscribing to response-cache invalidations failed ({Reason}); waiting requests fall back to polling and the near cache stays off until the subscription is live. Retried every second; logged again only after it has been restored.", EventName = "SubscribeFailed")]
    public static partial void SubscribeFailed(ILogger logger, string reason, Exception? exception);

    [LoggerMessage(5007, LogLevel.Debug, "Giving up a fill lease for policy '{Policy}' failed; it expires on its own.", EventName = "AbandonFailed")]
    public static partial void AbandonFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(5008, LogLevel.Warning, "The origin failed for policy '{Policy}'; a stale entry was served instead (stale-if-error).", EventName = "ServedStaleOnError")]
    public static partial void ServedStaleOnError(ILogger logger, string policy, Exception? exception);

    [LoggerMessage(5009, LogLevel.Warning, "A stored response-cache entry could not be read ({Key}); it is treated as a miss and replaced by the next fill. Further unreadable entries are not logged until one is read again.", EventName = "BadEntry")]
    public static partial void BadEntry(ILogger logger, string key, Exception? exception);

    [LoggerMessage(5010, LogLevel.Information, "Response-cache entries are readable again.", EventName = "BadEntriesCleared")]
    public static partial void BadEntriesCleared(ILogger logger);

    [LoggerMessage(5011, LogLevel.Warning, "A response-cache lookup for policy '{Policy}' failed with an error that is not an outage; requests are forwarded uncached. Further failures are not logged until a lookup succeeds.", EventName = "LookupFailed")]
    public static partial void LookupFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(5012, LogLevel.Information, "Response-cache lookups succeed again.", EventName = "LookupRecovered")]
    public static partial void LookupRecovered(ILogger logger);

    [LoggerMessage(5013, LogLevel.Debug, "Renewing a fill lease for policy '{Policy}' failed; it is tried again, and the lease lapses if it keeps failing.", EventName = "RenewFailed")]
    public static partial void RenewFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(5015, LogLevel.Warning, "A response-cache fill for policy '{Policy}' failed with an error that is not an outage; responses are served but not stored. Further failures are not logged until a fill succeeds.", EventName = "FillScriptFailed")]
    public static partial void FillScriptFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(5016, LogLevel.Information, "Response-cache fills succeed again.", EventName = "FillRecovered")]
    public static partial void FillRecovered(ILogger logger);

    [LoggerMessage(5014, LogLevel.Debug, "A fill for policy '{Policy}' was not stored: an eviction of one of its tags or of its URL came after it began.", EventName = "FillFenced")]
    public static partial void FillFenced(ILogger logger, string policy);
}
