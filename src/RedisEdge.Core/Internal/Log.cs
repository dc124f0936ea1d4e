using Microsoft.Extensions.Logging;

namespace RedisEdge.Internal;

/// <summary>Core log messages; event ids 1-999 (the scheme is in docs/telemetry.md).</summary>
/// <remarks>
/// A Redis outage fails every request, so per-call failures are not logged: the breaker logs its transitions
/// (opened, probe failed, closed) and the rest is counted in <c>redisedge.script.failures</c>.
/// </remarks>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "RedisEdge is connecting to Redis at {Configuration}.", EventName = "Connecting")]
    public static partial void Connecting(ILogger logger, string configuration);

    [LoggerMessage(2, LogLevel.Debug, "Redis call {Script} for {Feature} failed ({Outcome}).", EventName = "ScriptCallFailed")]
    public static partial void ScriptCallFailed(ILogger logger, string script, string feature, string outcome, Exception exception);

    [LoggerMessage(3, LogLevel.Error, "Redis circuit breaker for {Feature} on {EndPoint} opened after {Outcome} on {Script} ({Error}); its calls fail fast for {BreakDuration}.", EventName = "CircuitOpened")]
    public static partial void CircuitOpened(ILogger logger, string feature, string endPoint, string outcome, string script, string error, TimeSpan breakDuration);

    [LoggerMessage(4, LogLevel.Warning, "Redis circuit breaker for {Feature} on {EndPoint}: the probe call {Script} failed ({Outcome}: {Error}); it stays open for another {BreakDuration}.", EventName = "CircuitProbeFailed")]
    public static partial void CircuitProbeFailed(ILogger logger, string feature, string endPoint, string script, string outcome, string error, TimeSpan breakDuration);

    [LoggerMessage(5, LogLevel.Information, "Redis circuit breaker for {Feature} on {EndPoint} closed: Redis answered {Script} again.", EventName = "CircuitClosed")]
    public static partial void CircuitClosed(ILogger logger, string feature, string endPoint, string script);

    [LoggerMessage(6, LogLevel.Error, "RedisEdge configuration error: {Script} for {Feature} was refused for its shape, by StackExchange.Redis before sending it or by Redis (CROSSSLOT: keys in different cluster slots). This is not a Redis outage and will repeat on every such request until the configuration is fixed. Further occurrences of this error are logged at Debug level.", EventName = "ClientCommandError")]
    public static partial void ClientCommandError(ILogger logger, string script, string feature, Exception exception);

    [LoggerMessage(7, LogLevel.Warning, "Health check {Name}: Redis did not answer PING ({Reason}). Logged again only once a probe has been answered.", EventName = "HealthProbeFailed")]
    public static partial void HealthProbeFailed(ILogger logger, string name, string reason, Exception? exception);

    [LoggerMessage(8, LogLevel.Information, "Health check {Name}: Redis answers PING again.", EventName = "HealthProbeRecovered")]
    public static partial void HealthProbeRecovered(ILogger logger, string name);

    [LoggerMessage(9, LogLevel.Debug, "Redis could not answer for {Feature} (policy {Policy}); the request was decided under {Mode}.", EventName = "DecidedWithoutRedis")]
    public static partial void DecidedWithoutRedis(ILogger logger, string feature, string policy, RedisFailureMode mode, Exception exception);

    [LoggerMessage(10, LogLevel.Warning, "Endpoint '{Endpoint}' names {PolicyKind} '{Policy}', which is not defined; the endpoint runs as if it named no policy. Reported once per endpoint and policy.", EventName = "UnknownPolicy")]
    public static partial void UnknownPolicy(ILogger logger, string? endpoint, string policyKind, string policy);

    [LoggerMessage(11, LogLevel.Error, "A configuration reload was refused: it no longer defines each {PolicyKind} that endpoints use: {Policies}. The previous policies stay in force until a configuration defines them again (or the endpoints stop naming them).", EventName = "ReloadRefused")]
    public static partial void ReloadRefused(ILogger logger, string policyKind, string policies);

    [LoggerMessage(12, LogLevel.Warning, "The {Feature} invalidation subscription is down; its near cache serves nothing until it has resynchronised. Logged again only after it has been restored.", EventName = "InvalidationSubscriptionLost")]
    public static partial void InvalidationSubscriptionLost(ILogger logger, string feature);

    [LoggerMessage(13, LogLevel.Information, "The {Feature} invalidation subscription is live again; its near cache was cleared and resumes.", EventName = "InvalidationSubscriptionRestored")]
    public static partial void InvalidationSubscriptionRestored(ILogger logger, string feature);

    [LoggerMessage(14, LogLevel.Warning, "Subscribing to {Feature} invalidations failed ({Reason}); its near cache stays off until the subscription is live. Retried every second; logged again only after it has been restored.", EventName = "InvalidationSubscribeFailed")]
    public static partial void InvalidationSubscribeFailed(ILogger logger, string feature, string reason, Exception? exception);
}
