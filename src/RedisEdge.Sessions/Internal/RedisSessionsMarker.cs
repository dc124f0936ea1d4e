namespace RedisEdge.Sessions.Internal;

/// <summary>Marks that <c>AddSessions</c> ran, so <c>UseRedisSessions</c> can say so when it did not.</summary>
internal sealed class RedisSessionsMarker;
