using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// <see cref="IRedisSessionManager"/>: operations on the current request's session go to <see cref="RedisSessionLifecycle"/>,
/// operations on a user's sessions to <see cref="RedisSessionUsers"/>.
/// </summary>
internal sealed class RedisSessionManager(RedisSessionStore store, RedisSessionLifecycle lifecycle, RedisSessionUsers users) : IRedisSessionManager
{
    public Task RegenerateAsync(HttpContext context, CancellationToken cancellationToken = default)
        => lifecycle.RegenerateAsync(GetSession(context), cancellationToken);

    public Task DestroyAsync(HttpContext context, CancellationToken cancellationToken = default)
        => lifecycle.DestroyAsync(GetSession(context), cancellationToken);

    public Task<int> BindUserAsync(HttpContext context, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        return lifecycle.BindAsync(GetSession(context), RedisSessionStore.UserTag(userId), cancellationToken);
    }

    public Task<IReadOnlyList<RedisSessionInfo>> ListUserSessionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        return users.ListAsync(RedisSessionStore.UserTag(userId), cancellationToken);
    }

    public async Task<bool> RevokeSessionAsync(string userId, string handle, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        if (!RedisSessionIds.IsWellFormed(handle))
        {
            return false;
        }

        var userTag = RedisSessionStore.UserTag(userId);
        var (deleted, owner) = await store.DestroyAsync(handle, userTag, cancellationToken).ConfigureAwait(false);
        if (deleted)
        {
            store.Telemetry.Revoked.Add(1);
        }

        if (deleted || owner.Length == 0)
        {
            await store.RemoveFromUserAsync(userTag, [handle], cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    public async Task<int> RevokeUserSessionsAsync(string userId, string? exceptHandle = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var userTag = RedisSessionStore.UserTag(userId);
        return await users.RevokeAllAsync(userTag, RedisSessionIds.IsWellFormed(exceptHandle) ? exceptHandle : null, cancellationToken).ConfigureAwait(false);
    }

    private static RedisSession GetSession(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return (context.Features.Get<ISessionFeature>() as RedisSessionFeature)?.RedisSession
            ?? throw new InvalidOperationException("This request has no RedisEdge session: call app.UseRedisSessions() before the endpoints, and do not mark the endpoint [DisableSession].");
    }
}
