namespace RedisEdge.Sessions.Internal;

/// <summary>
/// What <c>fetch.lua</c> returned for a live session: its version, its remaining time to live, and its fields unless
/// they were at the version the caller already held (<see cref="Record"/> is <see langword="null"/> then).
/// </summary>
internal sealed record RedisSessionFetch(long Version, long TtlMilliseconds, RedisSessionRecord? Record);
