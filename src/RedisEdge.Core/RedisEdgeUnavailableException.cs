namespace RedisEdge;

/// <summary>
/// Redis could not answer a RedisEdge call: it is unreachable, the call exceeded its timeout budget, the server
/// cannot serve it for now (out of memory, read-only replica, loading, busy), the circuit breaker is open, or the
/// client refused the command (a configuration error, logged as such). Features turn this into their fail-open or
/// fail-closed behaviour.
/// </summary>
public sealed class RedisEdgeUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RedisEdgeUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RedisEdgeUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    public RedisEdgeUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a message, the failure that caused it and a retry hint.</summary>
    internal RedisEdgeUnavailableException(string message, Exception? innerException, TimeSpan retryAfter)
        : base(message, innerException)
    {
        RetryAfter = retryAfter;
    }

    /// <summary>
    /// When a client could usefully retry: the time until the circuit breaker lets a probe through when it is open,
    /// otherwise one second. Fail-closed responses send it as <c>Retry-After</c> (whole seconds, at least 1).
    /// </summary>
    public TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(1);
}
