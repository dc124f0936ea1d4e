namespace RedisEdge.Idempotency;

/// <summary>The scope of a request whose caller the configured <see cref="RedisIdempotencyScope"/> cannot identify.</summary>
public enum RedisIdempotencyAnonymousFallback
{
    /// <summary>Refuse the request with <c>400</c> problem+json: only identified callers may use the endpoint. The default.</summary>
    Reject,

    /// <summary>
    /// Scope the key by the client IP address (<c>Connection.RemoteIpAddress</c>, after <c>UseForwardedHeaders</c>):
    /// an explicit opt-in. Behind a proxy without forwarded headers every client has the proxy's address and shares one
    /// scope; a request without an address is refused with <c>400</c>, never given a shared scope.
    /// </summary>
    ClientIp,

    /// <summary>
    /// One scope shared by every anonymous caller. Two anonymous callers sending the same key and the same
    /// request get the same response; use only when keys are unguessable (random UUIDs).
    /// </summary>
    Shared,
}
