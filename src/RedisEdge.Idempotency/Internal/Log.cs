using Microsoft.Extensions.Logging;

namespace RedisEdge.Idempotency.Internal;

/// <summary>Idempotency logs, event ids 4000-4999 (the scheme is in docs/telemetry.md).</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Error, "The handler for idempotency policy '{Policy}' ran, but neither its response nor the outcome-unknown marker could be stored in Redis key '{RedisKey}'; a retry after the lease expires will run it again.", EventName = "CompleteFailed")]
    public static partial void CompleteFailed(ILogger logger, string policy, string redisKey, Exception exception);

    [LoggerMessage(4002, LogLevel.Warning, "The claim of an execution under idempotency policy '{Policy}' was lost (its lease expired and another execution took over); its response was not stored.", EventName = "LeaseLost")]
    public static partial void LeaseLost(ILogger logger, string policy);

    [LoggerMessage(4003, LogLevel.Debug, "Releasing an idempotency key failed; it frees itself when its lease expires.", EventName = "ReleaseFailed")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception);

    [LoggerMessage(4004, LogLevel.Debug, "Renewing an idempotency lease failed; the next renewal retries.", EventName = "RenewFailed")]
    public static partial void RenewFailed(ILogger logger, Exception exception);

    [LoggerMessage(4006, LogLevel.Information, "An idempotency key under policy '{Policy}' was taken over from an execution whose lease expired (its instance died or stalled).", EventName = "LeaseTakeover")]
    public static partial void LeaseTakeover(ILogger logger, string policy);

    [LoggerMessage(4007, LogLevel.Debug, "Settling an idempotency execution under policy '{Policy}' (complete or release) failed; it is retried within one lease.", EventName = "SettleFailed")]
    public static partial void SettleFailed(ILogger logger, string policy, Exception exception);

    [LoggerMessage(4008, LogLevel.Warning, "The handler for idempotency policy '{Policy}' ran, but its response could not be stored; Redis key '{RedisKey}' is marked outcome-unknown and answers 409 until its retention ends or an operator deletes it.", EventName = "OutcomeUnknown")]
    public static partial void OutcomeUnknown(ILogger logger, string policy, string redisKey);
}
