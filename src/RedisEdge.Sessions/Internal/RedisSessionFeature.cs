using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.Sessions.Internal;

internal sealed class RedisSessionFeature(RedisSession session) : ISessionFeature
{
    public RedisSession RedisSession { get; } = session;

    public Microsoft.AspNetCore.Http.ISession Session
    {
        get => RedisSession;
        set => throw new NotSupportedException("The RedisEdge session of a request cannot be replaced.");
    }
}
