using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>What a failed Redis call means to RedisEdge.</summary>
internal enum RedisFailureKind
{
    /// <summary>Not a Redis failure RedisEdge knows how to classify; it propagates as it is.</summary>
    Unknown,

    /// <summary>
    /// Redis could not do the work now: unreachable, too slow, or a server state that passes or that only an operator
    /// can fix (out of memory under <c>noeviction</c>, a read-only replica after failover, loading, busy with a script,
    /// cluster down, refused credentials). Counts toward the circuit breaker; features apply their failure mode.
    /// </summary>
    Outage,

    /// <summary>
    /// StackExchange.Redis refused the command before sending it (<see cref="RedisCommandException"/>), or the server
    /// refused its shape (<c>CROSSSLOT</c>): a RedisEdge configuration or programming error, not a Redis outage.
    /// </summary>
    ClientError,

    /// <summary>Redis ran the script and it failed (a <c>WRONGTYPE</c> from foreign data, a script bug).</summary>
    ScriptError,
}

/// <summary>
/// The one place RedisEdge decides whether a Redis exception is an outage, a client bug or a script error. It follows
/// StackExchange.Redis' own taxonomy: exception types, and <see cref="RedisServerException.Kind"/> classified from the
/// error reply's code (Redis 7 keeps the code of an error raised inside a script, so this holds for script calls).
/// </summary>
internal static class RedisErrorClassifier
{
    public static RedisFailureKind Classify(Exception exception) => exception switch
    {
        RedisCommandException => RedisFailureKind.ClientError,
        RedisServerException { Kind: RedisErrorKind.CrossSlot } => RedisFailureKind.ClientError,
        RedisServerException server when IsOutage(server.Kind) => RedisFailureKind.Outage,
        RedisServerException => RedisFailureKind.ScriptError,
        TimeoutException or RedisConnectionException or RedisTimeoutException or ObjectDisposedException => RedisFailureKind.Outage,
        _ => RedisFailureKind.Unknown,
    };

    /// <summary>The metric and span outcome of a failed call.</summary>
    public static string Outcome(Exception exception) => exception switch
    {
        RedisCommandException or RedisServerException { Kind: RedisErrorKind.CrossSlot } => "client_error",
        RedisServerException server when IsOutage(server.Kind) => "server_unavailable",
        RedisServerException => "script_error",
        RedisConnectionException or ObjectDisposedException => "connection_error",
        TimeoutException or RedisTimeoutException => "timeout",
        _ => "error",
    };

    private static bool IsOutage(RedisErrorKind kind) => kind is
        RedisErrorKind.OutOfMemory or RedisErrorKind.ReadOnly or RedisErrorKind.Loading or RedisErrorKind.Busy or
        RedisErrorKind.MasterDown or RedisErrorKind.ClusterDown or RedisErrorKind.TryAgain or RedisErrorKind.Moved or
        RedisErrorKind.Ask or RedisErrorKind.NoReplicas or
        RedisErrorKind.Misconfigured or RedisErrorKind.MaxClients or RedisErrorKind.ConnectionFault or RedisErrorKind.Timeout or
        RedisErrorKind.NoAuth or RedisErrorKind.WrongPass or RedisErrorKind.NoPermission or RedisErrorKind.UnknownRedirectTarget;
}
