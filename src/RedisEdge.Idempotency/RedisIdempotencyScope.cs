namespace RedisEdge.Idempotency;

/// <summary>How the caller a key belongs to is identified. Keys are never shared across callers.</summary>
public enum RedisIdempotencyScope
{
    /// <summary>
    /// The authenticated subject: its <c>NameIdentifier</c> (or unmapped <c>sub</c>) claim, qualified by the claim's
    /// issuer (or, for locally issued claims, the authentication type). Never the display name (<c>Identity.Name</c>),
    /// which two users may share.
    /// </summary>
    User,

    /// <summary>
    /// The value of a request header such as <c>X-Api-Key</c> (<c>ScopeHeaderName</c>). The scope is only as
    /// trustworthy as that header: the middleware does not validate it, so anyone who can send another caller's header
    /// value shares that caller's keys and stored responses. Use it only for a header authentication has already
    /// checked (an API key validated before this middleware), or behind a gateway that sets it.
    /// </summary>
    Header,

    /// <summary>A resolver set in code (<c>ScopeResolver</c>).</summary>
    Custom,
}
