using Microsoft.AspNetCore.Http;

namespace RedisEdge.Sessions;

/// <summary>
/// Options of RedisEdge sessions, bound from <c>RedisEdge:Sessions</c> and validated at start-up.
/// </summary>
public sealed class RedisSessionOptions
{
    /// <summary>Sliding idle timeout: a session not accessed for this long ends. Default 20 minutes.</summary>
    public TimeSpan IdleTimeout { get; set; } = RedisSessionDefaults.IdleTimeout;

    /// <summary>Absolute lifetime: a session ends this long after it was created however active it is. Default 12 hours.</summary>
    public TimeSpan AbsoluteLifetime { get; set; } = RedisSessionDefaults.AbsoluteLifetime;

    /// <summary>
    /// When the session is read from Redis. Default <see cref="RedisSessionLoadMode.Eager"/>: before the endpoint runs,
    /// asynchronously, whenever the request carries a session id, so synchronous <c>ISession</c> calls never block a thread.
    /// </summary>
    public RedisSessionLoadMode LoadMode { get; set; } = RedisSessionLoadMode.Eager;

    /// <summary>The session cookie, with <see cref="CookieBuilder"/>'s names and <c>Microsoft.AspNetCore.Session</c>'s defaults.</summary>
    public RedisSessionCookieBuilder Cookie { get; set; } = new();

    /// <summary>
    /// Optional request/response header carrying the session id for non-browser clients (for example
    /// <c>X-Session-Id</c>). When a request sends it (any value such as <c>new</c> on the first request), the id is read from it and any
    /// new id is answered in the same response header; no cookie is set. <see langword="null"/> (default) disables
    /// header transport.
    /// </summary>
    public string? HeaderName { get; set; }

    /// <summary>
    /// Maximum live sessions per bound user; binding one more revokes the least recently used one (sessions that idled
    /// out or ended do not count). 0 (default) = no limit.
    /// </summary>
    public int MaxSessionsPerUser { get; set; }

    /// <summary>
    /// Largest value one session key may hold, in bytes; 0 (default) = no limit. A larger <c>Set</c> throws
    /// <see cref="RedisSessionLimitExceededException"/> (unhandled: a 413 problem response) and stores nothing.
    /// </summary>
    public int MaxValueBytes { get; set; }

    /// <summary>
    /// Largest size of a session's data in bytes: every key's stored field name (<c>d:</c> and the key in UTF-8) plus
    /// its value; 0 (default) = no limit. Checked by <c>Set</c> against what the request sees and again by every commit,
    /// atomically in Redis, so concurrent requests on any instances cannot exceed it together; a refused change throws
    /// <see cref="RedisSessionLimitExceededException"/> (unhandled: a 413 problem response) and stores nothing.
    /// </summary>
    public int MaxSessionBytes { get; set; }

    /// <summary>
    /// Failure policy. Default <see cref="RedisFailureMode.FailClosed"/>: a request that needs the session while Redis
    /// is unreachable gets a 503 problem response. <see cref="RedisFailureMode.FailOpen"/> lets reads continue with an
    /// empty session; writing to such a session still fails with 503, so no change is silently lost.
    /// </summary>
    public RedisFailurePolicyOptions Failure { get; set; } = new() { Mode = RedisFailureMode.FailClosed };

    /// <summary>
    /// Called for an endpoint marked <see cref="RequireSessionAttribute"/> when the request has no live session.
    /// Default: a 401 problem response. Set it to redirect to a login page, for example.
    /// </summary>
    public Func<HttpContext, Task>? OnSessionRequired { get; set; }

    /// <summary>The optional in-process near cache (<c>RedisEdge:Sessions:NearCache</c>); off by default.</summary>
    public RedisSessionNearCacheOptions NearCache { get; set; } = new();
}
