using Microsoft.Extensions.Logging;

namespace RedisEdge.Internal;

/// <summary>Core log messages; event ids 1-99.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "RedisEdge is connecting to Redis at {Configuration}.", EventName = "Connecting")]
    public static partial void Connecting(ILogger logger, string configuration);

    [LoggerMessage(2, LogLevel.Warning, "Redis call {Script} for {Feature} failed ({Outcome}).", EventName = "ScriptCallFailed")]
    public static partial void ScriptCallFailed(ILogger logger, string script, string feature, string outcome, Exception exception);

    [LoggerMessage(3, LogLevel.Error, "Redis circuit breaker for {Feature} opened; calls fail fast for {BreakDuration}.", EventName = "CircuitOpened")]
    public static partial void CircuitOpened(ILogger logger, string feature, TimeSpan breakDuration, Exception exception);
}
