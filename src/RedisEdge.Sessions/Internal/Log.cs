using Microsoft.Extensions.Logging;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// Session log messages; event ids 2000-2999 (the scheme is in docs/telemetry.md). Everything that repeats per request while Redis is down is Debug: the
/// Core circuit breaker logs the outage once per transition, and <c>redisedge.script.failures</c> counts the calls.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(2000, LogLevel.Debug, "The session id of the request names no live session; a fresh session replaces it.", EventName = "SessionNotFound")]
    public static partial void SessionNotFound(ILogger logger);

    [LoggerMessage(2001, LogLevel.Debug, "The session ended (destroyed, revoked or expired) before this request committed; its changes were dropped.", EventName = "CommitOnEndedSession")]
    public static partial void CommitOnEndedSession(ILogger logger);

    [LoggerMessage(2004, LogLevel.Debug, "The session could not be saved after the response had started; the response was marked as failed.", EventName = "CommitFailedAfterStart")]
    public static partial void CommitFailedAfterStart(ILogger logger, Exception exception);

    [LoggerMessage(2005, LogLevel.Debug, "Session changes were discarded: {Reason}.", EventName = "ChangesDiscarded")]
    public static partial void ChangesDiscarded(ILogger logger, string reason);

    [LoggerMessage(2006, LogLevel.Debug, "No session was established: the cookie is not essential and the client has not consented to it.", EventName = "SessionNotEstablished")]
    public static partial void SessionNotEstablished(ILogger logger);

    [LoggerMessage(2007, LogLevel.Debug, "Dead entries of a user's session index could not be pruned; the next login of that user retries.", EventName = "PruneFailed")]
    public static partial void PruneFailed(ILogger logger, Exception exception);

    [LoggerMessage(2008, LogLevel.Debug, "A session change was refused: it would exceed MaxValueBytes or MaxSessionBytes.", EventName = "SessionTooLarge")]
    public static partial void SessionTooLarge(ILogger logger, Exception exception);
}
