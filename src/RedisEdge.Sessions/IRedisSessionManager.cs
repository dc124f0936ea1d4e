using Microsoft.AspNetCore.Http;

namespace RedisEdge.Sessions;

/// <summary>
/// Session lifecycle operations <see cref="ISession"/> cannot express: regenerate the id, destroy, bind to a user,
/// list and revoke a user's sessions.
/// </summary>
/// <remarks>
/// Each call is one script call per Redis key involved; a session and its user's index hash to different Redis
/// Cluster slots, so binding, listing and revoking take a few calls (see docs/sessions.md).
/// </remarks>
public interface IRedisSessionManager
{
    /// <summary>
    /// Gives the current session a new id and keeps its data (call it at login, against session fixation).
    /// The old id stops working at once; the new one is sent in the response. Must run before the response starts.
    /// </summary>
    Task RegenerateAsync(HttpContext context, CancellationToken cancellationToken = default);

    /// <summary>
    /// Destroys the current session (logout): gone on every instance at once, in-flight commits on it become no-ops,
    /// and the cookie is removed. Later writes in the same request start a fresh session.
    /// </summary>
    Task DestroyAsync(HttpContext context, CancellationToken cancellationToken = default);

    /// <summary>
    /// Binds the current session to <paramref name="userId"/> (creating it in Redis if it is new) so it can be listed
    /// and revoked. When <see cref="RedisSessionOptions.MaxSessionsPerUser"/> is exceeded the user's oldest sessions are
    /// revoked. Returns how many sessions were revoked for the limit.
    /// </summary>
    Task<int> BindUserAsync(HttpContext context, string userId, CancellationToken cancellationToken = default);

    /// <summary>Lists the live sessions bound to <paramref name="userId"/>, oldest first.</summary>
    Task<IReadOnlyList<RedisSessionInfo>> ListUserSessionsAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes one session of <paramref name="userId"/> by its <see cref="RedisSessionInfo.Handle"/>. Returns
    /// <see langword="false"/> when no such live session of that user exists.
    /// </summary>
    Task<bool> RevokeSessionAsync(string userId, string handle, CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes every session of <paramref name="userId"/> on every instance ("log out everywhere"), except the one
    /// whose handle is <paramref name="exceptHandle"/> when given. Returns the number of sessions revoked.
    /// </summary>
    Task<int> RevokeUserSessionsAsync(string userId, string? exceptHandle = null, CancellationToken cancellationToken = default);
}
