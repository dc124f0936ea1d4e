using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency;

/// <summary>
/// A named idempotency policy (<c>RedisEdge:Idempotency:Policies:&lt;name&gt;</c>). Every value left unset takes the
/// feature-wide value of <see cref="RedisIdempotencyOptions"/>.
/// </summary>
public sealed class RedisIdempotencyPolicyOptions
{
    /// <summary>See <see cref="RedisIdempotencyOptions.HeaderName"/>.</summary>
    public string? HeaderName { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.KeyRequired"/>.</summary>
    public bool? KeyRequired { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.Retention"/>.</summary>
    public TimeSpan? Retention { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.Lease"/>.</summary>
    public TimeSpan? Lease { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.StoredStatusCodes"/>.</summary>
    public IList<string>? StoredStatusCodes { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.MaximumBodySize"/>.</summary>
    public long? MaximumBodySize { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.MaxRequestBodySize"/>.</summary>
    public long? MaxRequestBodySize { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.InFlight"/>.</summary>
    public RedisIdempotencyInFlightBehavior? InFlight { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.WaitTimeout"/>.</summary>
    public TimeSpan? WaitTimeout { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.Scope"/>.</summary>
    public RedisIdempotencyScope? Scope { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.ScopeHeaderName"/>.</summary>
    public string? ScopeHeaderName { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.ScopeResolver"/>.</summary>
    public Func<HttpContext, string?>? ScopeResolver { get; set; }

    /// <summary>See <see cref="RedisIdempotencyOptions.AnonymousFallback"/>.</summary>
    public RedisIdempotencyAnonymousFallback? AnonymousFallback { get; set; }
}
