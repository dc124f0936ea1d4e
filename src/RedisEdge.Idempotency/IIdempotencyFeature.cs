namespace RedisEdge.Idempotency;

/// <summary>
/// The idempotency claim of the request whose handler is running, on <c>HttpContext.Features</c> while an
/// <see cref="IdempotentAttribute"/> endpoint executes under a key (absent otherwise: no key, a replay, a refusal).
/// A handler uses it to fence its own downstream writes and to stop when it no longer owns the key.
/// </summary>
/// <remarks>
/// RedisEdge runs a handler once per (caller, key) only while its instance keeps renewing the lease. An instance that
/// stalls for a whole lease (a long GC pause, a frozen VM, a network partition from Redis) can lose the key to a retry
/// that takes over and runs the handler again; when the stalled one resumes, both may write. Pass
/// <see cref="FencingToken"/> with every write to a downstream store that can refuse a token lower than the highest it
/// has seen for the key, and observe <see cref="LeaseLost"/> to stop early.
/// </remarks>
public interface IIdempotencyFeature
{
    /// <summary>The idempotency key the client sent (the header's value, parsed).</summary>
    string Key { get; }

    /// <summary>The caller scope the key is recorded under, as RedisEdge resolved it for the endpoint's policy (an opaque
    /// value: one caller's key never reaches another scope's record).</summary>
    string CallerScope { get; }

    /// <summary>Whether this execution took the key over from an earlier one whose lease ran out without renewal (its
    /// instance died or stalled): that earlier execution may have performed some or all of its side effects.</summary>
    bool IsTakeover { get; }

    /// <summary>The random owner token of this execution (128 bits, hex): Redis completes, renews or releases the key only
    /// for it.</summary>
    string OwnerToken { get; }

    /// <summary>
    /// A fencing token for this execution: the Redis server clock in microseconds at the claim, and always above the
    /// token of any earlier execution of the same key while the record lives. It increases with every execution of the key
    /// as long as the Redis server clock does not step back.
    /// </summary>
    long FencingToken { get; }

    /// <summary>
    /// Cancelled when a lease renewal finds that this execution no longer holds the key (another execution took it over
    /// after this one failed to renew for a whole lease, or the record is gone). Its response will not be stored. It is
    /// not cancelled by the client going away, nor when Redis cannot be reached (the renewal is retried).
    /// </summary>
    CancellationToken LeaseLost { get; }
}
