namespace RedisEdge;

/// <summary>
/// Redis could not answer a RedisEdge call: it is unreachable, the call exceeded its timeout budget,
/// or the circuit breaker is open. Features turn this into their fail-open or fail-closed behaviour.
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
}
