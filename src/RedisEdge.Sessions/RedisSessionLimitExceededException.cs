namespace RedisEdge.Sessions;

/// <summary>
/// A session value or a whole session would exceed <see cref="RedisSessionOptions.MaxValueBytes"/> or
/// <see cref="RedisSessionOptions.MaxSessionBytes"/>. Thrown by <c>ISession.Set</c> (and so <c>SetString</c>, ...) or,
/// when concurrent requests filled the session meanwhile, by the commit; nothing of the refused change is stored.
/// Unhandled, the request gets a 413 problem response.
/// </summary>
public sealed class RedisSessionLimitExceededException : InvalidOperationException
{
    /// <summary>Creates the exception with its message.</summary>
    public RedisSessionLimitExceededException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and inner exception.</summary>
    public RedisSessionLimitExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public RedisSessionLimitExceededException()
        : base("The session would exceed its configured size limit.")
    {
    }
}
