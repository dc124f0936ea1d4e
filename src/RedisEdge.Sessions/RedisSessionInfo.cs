namespace RedisEdge.Sessions;

/// <summary>One live session of a user, as listed by <see cref="IRedisSessionManager.ListUserSessionsAsync"/>.</summary>
/// <param name="Handle">
/// The session's non-secret handle (equal to <c>ISession.Id</c> of that session): it identifies the session for
/// <see cref="IRedisSessionManager.RevokeSessionAsync"/> but cannot be used as a session id.
/// </param>
/// <param name="CreatedAt">When the session was created (Redis server clock).</param>
/// <param name="AbsoluteExpiresAt">When the absolute lifetime ends.</param>
/// <param name="IdleExpiresAt">When the session ends unless it is accessed again.</param>
public sealed record RedisSessionInfo(string Handle, DateTimeOffset CreatedAt, DateTimeOffset AbsoluteExpiresAt, DateTimeOffset IdleExpiresAt);
