using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency;

/// <summary>
/// Options of RedisEdge idempotency, bound from <c>RedisEdge:Idempotency</c>. Named policies and
/// <see cref="IdempotentAttribute"/> properties override them per endpoint.
/// </summary>
public sealed class RedisIdempotencyOptions
{
    /// <summary>The request header carrying the key. Default <c>Idempotency-Key</c>.</summary>
    public string HeaderName { get; set; } = RedisIdempotencyDefaults.HeaderName;

    /// <summary>Whether a request without the key is refused with <c>400</c>; when <see langword="false"/> it runs
    /// unguarded. Default <see langword="true"/>.</summary>
    public bool KeyRequired { get; set; } = true;

    /// <summary>How long a stored response is replayed after the first execution completed. Default 24 hours.</summary>
    public TimeSpan Retention { get; set; } = RedisIdempotencyDefaults.Retention;

    /// <summary>
    /// How long a claim holds without renewal. The executing instance renews it every third of this while the handler
    /// runs; when the instance dies, the key becomes executable again once the lease runs out. Default 30 seconds.
    /// </summary>
    public TimeSpan Lease { get; set; } = RedisIdempotencyDefaults.Lease;

    /// <summary>
    /// Status codes whose responses are stored and replayed: classes such as <c>2xx</c>, single codes such as
    /// <c>201</c>, or ranges such as <c>400-428</c>; any other status releases the key, so a retry runs again.
    /// <see langword="null"/> or empty = <see cref="RedisIdempotencyDefaults.StoredStatusCodes"/>: 2xx, 3xx, 400, 404,
    /// 405, 410, 413, 415 and 422 (never 408, 409, 423, 425, 429, 401 or 403, which a retry may get past). Server
    /// errors are stored only when listed (<c>"500"</c>, <c>"5xx"</c>): the opt-in for handlers whose 500 may follow a
    /// side effect that must not run twice.
    /// </summary>
    public IList<string>? StoredStatusCodes { get; set; }

    /// <summary>The largest response body stored, in bytes (0 to 64 MiB). A larger response is sent normally, not
    /// stored, and the key released. Default 1 MiB.</summary>
    public long MaximumBodySize { get; set; } = RedisIdempotencyDefaults.MaximumBodySize;

    /// <summary>The largest request body read for the fingerprint, in bytes (0 to 1 GiB); a larger one is refused with
    /// <c>413</c>. Default 1 MiB.</summary>
    public long MaxRequestBodySize { get; set; } = RedisIdempotencyDefaults.MaxRequestBodySize;

    /// <summary>What a request does while the same key is in flight. Default <see cref="RedisIdempotencyInFlightBehavior.Conflict"/>.</summary>
    public RedisIdempotencyInFlightBehavior InFlight { get; set; } = RedisIdempotencyInFlightBehavior.Conflict;

    /// <summary>The longest a request waits for the first one under <see cref="RedisIdempotencyInFlightBehavior.Wait"/>.
    /// Default 10 seconds.</summary>
    public TimeSpan WaitTimeout { get; set; } = RedisIdempotencyDefaults.WaitTimeout;

    /// <summary>How the caller a key belongs to is identified. Default <see cref="RedisIdempotencyScope.User"/>.</summary>
    public RedisIdempotencyScope Scope { get; set; } = RedisIdempotencyScope.User;

    /// <summary>
    /// The header identifying the caller when <see cref="Scope"/> is <see cref="RedisIdempotencyScope.Header"/>, such as
    /// <c>X-Api-Key</c>. The scope is only as trustworthy as this header: nothing here checks it, so whoever can send
    /// another caller's value reads that caller's stored responses. Name a header your authentication validates first.
    /// </summary>
    public string? ScopeHeaderName { get; set; }

    /// <summary>Returns the caller's identity (or <see langword="null"/> when unknown) when <see cref="Scope"/> is
    /// <see cref="RedisIdempotencyScope.Custom"/>. Set in code.</summary>
    public Func<HttpContext, string?>? ScopeResolver { get; set; }

    /// <summary>The scope of callers <see cref="Scope"/> cannot identify. Default <see cref="RedisIdempotencyAnonymousFallback.Reject"/>;
    /// <see cref="RedisIdempotencyAnonymousFallback.ClientIp"/> is an explicit opt-in.</summary>
    public RedisIdempotencyAnonymousFallback AnonymousFallback { get; set; } = RedisIdempotencyAnonymousFallback.Reject;

    /// <summary>Response headers replayed in addition to <see cref="RedisIdempotencyDefaults.ReplayedHeaders"/>
    /// (<c>Content-Type</c>, <c>Content-Encoding</c>, <c>Location</c>, <c>ETag</c>, <c>Link</c>, <c>Retry-After</c>,
    /// <c>Allow</c>, <c>WWW-Authenticate</c>). <c>Set-Cookie</c> and hop-by-hop headers are refused at start-up.</summary>
    public IList<string> AllowedReplayHeaders { get; set; } = [];

    /// <summary>Request headers that are part of the fingerprint besides method, path, query and body.
    /// <see langword="null"/> or empty = <c>Content-Type</c>.</summary>
    public IList<string>? FingerprintHeaders { get; set; }

    /// <summary>Named policies (<c>RedisEdge:Idempotency:Policies:&lt;name&gt;</c>), applied with
    /// <c>[Idempotent(Policy = "name")]</c>. Names are case-insensitive, 1-64 characters of <c>[A-Za-z0-9_.-]</c>.</summary>
    public Dictionary<string, RedisIdempotencyPolicyOptions> Policies { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Timeout, circuit breaker and failure mode. Idempotency defaults to <see cref="RedisFailureMode.FailClosed"/>:
    /// running a handler unguarded while Redis is down could execute it twice.</summary>
    public RedisFailurePolicyOptions Failure { get; set; } = new() { Mode = RedisFailureMode.FailClosed };

    /// <summary>Adds or changes the policy <paramref name="name"/>.</summary>
    public RedisIdempotencyOptions AddPolicy(string name, Action<RedisIdempotencyPolicyOptions> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        if (!Policies.TryGetValue(name, out var policy))
        {
            policy = new RedisIdempotencyPolicyOptions();
            Policies[name] = policy;
        }

        configure(policy);
        return this;
    }
}
