namespace RedisEdge.Idempotency;

/// <summary>What a request does when another request with the same key is still being executed.</summary>
public enum RedisIdempotencyInFlightBehavior
{
    /// <summary>Answer <c>409 Conflict</c> at once, with <c>Retry-After</c> from the remaining lease.</summary>
    Conflict,

    /// <summary>
    /// Wait (polling Redis) up to the wait timeout for the first request to finish, then replay its response;
    /// answer <c>409</c> if it is still running by then.
    /// </summary>
    Wait,
}
