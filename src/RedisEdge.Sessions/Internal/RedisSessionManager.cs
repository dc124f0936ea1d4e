using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// Lifecycle operations. A session hash and its user's index live in different Redis Cluster slots, so operations
/// that touch both are ordered to fail safe: the index is updated before the session points at it, and sessions
/// are removed from the index before they are destroyed (a crash in between leaves a dead session or a stale index
/// entry, never a live session that revoke-all cannot find).
/// </summary>
internal sealed class RedisSessionManager(RedisSessionStore store) : IRedisSessionManager
{
    public async Task RegenerateAsync(HttpContext context, CancellationToken cancellationToken = default)
    {
        var session = GetSession(context);
        var (oldTag, userTag) = await session.RegenerateAsync(cancellationToken).ConfigureAwait(false);
        if (userTag is not null && oldTag is not null && session.Tag is not null && session.IsLive)
        {
            await store.BindUserAsync(userTag, session.Tag, session.AbsoluteExpiry, maxSessions: 0, cancellationToken).ConfigureAwait(false);
            await store.RemoveFromUserAsync(userTag, [oldTag], cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task DestroyAsync(HttpContext context, CancellationToken cancellationToken = default)
    {
        var session = GetSession(context);
        var (destroyed, oldTag, userTag) = await session.DestroyAsync(cancellationToken).ConfigureAwait(false);
        if (destroyed)
        {
            store.Telemetry.Destroyed.Add(1);
            if (userTag is not null && oldTag is not null)
            {
                await store.RemoveFromUserAsync(userTag, [oldTag], cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<int> BindUserAsync(HttpContext context, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var session = GetSession(context);
        var userTag = RedisSessionStore.UserTag(userId);
        var absoluteExpiry = await session.EnsurePersistedAsync(cancellationToken).ConfigureAwait(false);
        var previousUser = session.UserTag;
        var evicted = await store.BindUserAsync(userTag, session.Tag!, absoluteExpiry, store.Options.MaxSessionsPerUser, cancellationToken).ConfigureAwait(false);
        await session.SetUserAsync(userTag, cancellationToken).ConfigureAwait(false);
        if (previousUser is not null && previousUser != userTag)
        {
            await store.RemoveFromUserAsync(previousUser, [session.Tag!], cancellationToken).ConfigureAwait(false);
        }

        return await DestroyAllAsync(evicted, userTag, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<RedisSessionInfo>> ListUserSessionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var userTag = RedisSessionStore.UserTag(userId);
        var indexed = await store.ListUserAsync(userTag, cancellationToken).ConfigureAwait(false);
        var infos = await Task.WhenAll(indexed.Select(e => store.PeekAsync(e.Tag, cancellationToken))).ConfigureAwait(false);
        var dead = new List<string>();
        var live = new List<RedisSessionInfo>(infos.Length);
        for (var i = 0; i < infos.Length; i++)
        {
            if (infos[i] is { } info)
            {
                live.Add(info);
            }
            else
            {
                dead.Add(indexed[i].Tag);
            }
        }

        await store.RemoveFromUserAsync(userTag, dead, cancellationToken).ConfigureAwait(false);
        return live;
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
        var keep = RedisSessionIds.IsWellFormed(exceptHandle) ? exceptHandle : null;
        var removed = await store.RevokeAllAsync(userTag, keep, cancellationToken).ConfigureAwait(false);
        return await DestroyAllAsync(removed, userTag, cancellationToken).ConfigureAwait(false);
    }

    private async Task<int> DestroyAllAsync(string[] tags, string userTag, CancellationToken cancellationToken)
    {
        if (tags.Length == 0)
        {
            return 0;
        }

        // One script per session (each in its own slot); StackExchange.Redis pipelines them.
        var results = await Task.WhenAll(tags.Select(t => store.DestroyAsync(t, userTag, cancellationToken))).ConfigureAwait(false);
        var revoked = results.Count(r => r.Deleted);
        if (revoked > 0)
        {
            store.Telemetry.Revoked.Add(revoked);
        }

        return revoked;
    }

    private static RedisSession GetSession(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return (context.Features.Get<ISessionFeature>() as RedisSessionFeature)?.RedisSession
            ?? throw new InvalidOperationException("This request has no RedisEdge session: call app.UseRedisSessions() before the endpoints, and do not mark the endpoint [Sessionless].");
    }
}
