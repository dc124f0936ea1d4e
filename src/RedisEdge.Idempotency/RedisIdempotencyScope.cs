namespace RedisEdge.Idempotency;

/// <summary>How the caller a key belongs to is identified. Keys are never shared across callers.</summary>
public enum RedisIdempotencyScope
{
    /// <summary>The authenticated user (name, or its name-identifier claim).</summary>
    User,

    /// <summary>The value of a request header such as <c>X-Api-Key</c> (<c>ScopeHeaderName</c>).</summary>
    Header,

    /// <summary>A resolver set in code (<c>ScopeResolver</c>).</summary>
    Custom,
}
