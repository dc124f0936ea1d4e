using Microsoft.Extensions.Logging;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// The operations on a request's session that take several Redis calls: regenerate, bind to a user, destroy. A
/// session hash and its user's index live in different Redis Cluster slots, so no single script can do them; the
/// steps are ordered so that a failure after any of them leaves nothing unsafe:
/// <list type="bullet">
/// <item>An id a client already holds dies before its data moves to a fresh id (detach first): no fixation, at worst
/// the user is logged out.</item>
/// <item>A session bound to a user is written <em>pending</em> (not loadable), then added to the user's index, then
/// activated. So every live bound session is in its user's index, and a revoke or eviction that runs in between
/// deletes the pending session and makes its activation fail instead of leaving a live session nobody can find.</item>
/// <item>Index entries are removed only after their session is destroyed, so a failed revoke can be retried.</item>
/// <item>A new id is sent to the client only once its session is live (see <see cref="RedisSession.BecomeLive"/>);
/// any failure withholds it.</item>
/// </list>
/// </summary>
internal sealed class RedisSessionLifecycle(RedisSessionStore store, RedisSessionUsers users, ILogger<RedisSessionLifecycle> logger)
{
    public async Task RegenerateAsync(RedisSession session, CancellationToken cancellationToken)
    {
        await session.PrepareForLifecycleAsync("regenerated", cancellationToken).ConfigureAwait(false);
        if (!session.Transport.CanEstablish)
        {
            // The new id could not reach the client: moving the data would destroy the session the client keeps, and
            // staying on the old id would write this request's (sign-in) changes into an id that may be planted.
            Log.SessionNotEstablished(logger);
            session.BecomeRequestLocal();
            return;
        }

        await RunAsync(session, () => RegenerateCoreAsync(session, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Binds the session to a user, regenerating its id first unless this request already gave it a fresh one.</summary>
    public async Task<int> BindAsync(RedisSession session, string userTag, CancellationToken cancellationToken)
    {
        await session.PrepareForLifecycleAsync("bound to a user", cancellationToken).ConfigureAwait(false);
        if (!session.Transport.CanEstablish)
        {
            // Nothing is bound, and the user's changes must not be committed to the id the client holds.
            Log.SessionNotEstablished(logger);
            session.BecomeRequestLocal();
            return 0;
        }

        return await RunAsync(session, () => BindCoreAsync(session, userTag, cancellationToken)).ConfigureAwait(false);
    }

    public async Task DestroyAsync(RedisSession session, CancellationToken cancellationToken)
    {
        if (session.State == RedisSessionState.Failed)
        {
            await session.LoadAsync(cancellationToken).ConfigureAwait(false);
        }

        await RunAsync(session, async () =>
        {
            // Not loaded first: destroying by the id the client sent is one call, even in lazy mode.
            var tag = session.State == RedisSessionState.New ? null : session.Tag;
            var (deleted, userTag) = tag is null
                ? (false, string.Empty)
                : await store.DestroyAsync(tag, expectedUserTag: null, cancellationToken).ConfigureAwait(false);

            // Only now: if the destroy failed, the client keeps its cookie and learns (503) that it is still signed in.
            session.BecomeNew();
            session.Transport.Expire();
            if (deleted)
            {
                store.Telemetry.Destroyed.Add(1);
                if (userTag.Length > 0)
                {
                    await store.RemoveFromUserAsync(userTag, [tag!], cancellationToken).ConfigureAwait(false);
                }
            }

            return 0;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the steps of one operation. Whatever a step throws (an outage, a script error, a cancelled request), the
    /// session fails: nothing more is committed for this request and no new id is sent, so no half-done step is
    /// completed or exposed by the commit at response start.
    /// </summary>
    private static async Task<int> RunAsync(RedisSession session, Func<Task<int>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            session.Fail(ex);
            throw;
        }
    }

    private async Task<int> RegenerateCoreAsync(RedisSession session, CancellationToken cancellationToken)
    {
        switch (session.State)
        {
            case RedisSessionState.Live:
                await MoveAsync(session, session.UserTag, maxSessions: 0, cancellationToken).ConfigureAwait(false);
                break;
            case RedisSessionState.Ended:
                session.BecomeNew();
                break;
            case RedisSessionState.New when session.Tag is not null:
                // Nothing in Redis yet: another fresh id is all it takes.
                session.AssignFreshId();
                break;
        }

        return 0;
    }

    private async Task<int> BindCoreAsync(RedisSession session, string userTag, CancellationToken cancellationToken)
    {
        var max = store.Options.MaxSessionsPerUser;
        if (session.State == RedisSessionState.Ended)
        {
            session.BecomeNew();
        }

        if (session.State == RedisSessionState.Live && !session.IdIsFresh)
        {
            // The client already holds this id (it may have been planted): bind a fresh one instead. If the session
            // ended meanwhile, it is new now and is bound below like any new session.
            if (await MoveAsync(session, userTag, max, cancellationToken).ConfigureAwait(false) is { } movedRevoked)
            {
                return movedRevoked;
            }
        }

        if (session.State == RedisSessionState.New)
        {
            if (session.Tag is null)
            {
                session.AssignFreshId();
            }

            var fields = session.Data.AllFields();
            fields.Add(RedisSessionData.Field(RedisSessionFields.User, userTag));
            fields.Add(RedisSessionData.Field(RedisSessionFields.Pending, store.PendingMilliseconds));
            var absolute = await CreateAsync(session, fields, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException("create.lua refused a new lifetime.");
            store.Telemetry.Created.Add(1);
            return await IndexAndActivateAsync(session, userTag, absolute, max, cancellationToken).ConfigureAwait(false);
        }

        // Live under an id this request created or regenerated: no client holds it yet.
        var previousUser = session.UserTag;
        if (previousUser == userTag)
        {
            return 0;
        }

        var (sets, removes, clear) = session.Data.ChangedFields();
        sets.Add(RedisSessionData.Field(RedisSessionFields.User, userTag));
        sets.Add(RedisSessionData.Field(RedisSessionFields.Pending, store.PendingMilliseconds));
        if (await store.CommitAsync(session.Tag!, clear, sets, removes, cancellationToken).ConfigureAwait(false) is not { } committed)
        {
            throw new RedisEdgeUnavailableException("The session ended while it was being bound to its user.");
        }

        session.SetVersion(committed.Version);

        var revoked = await IndexAndActivateAsync(session, userTag, session.AbsoluteExpiry, max, cancellationToken).ConfigureAwait(false);
        if (previousUser is not null)
        {
            await store.RemoveFromUserAsync(previousUser, [session.Tag!], cancellationToken).ConfigureAwait(false);
        }

        return revoked;
    }

    /// <summary>
    /// Moves a live session to a fresh id owned by <paramref name="owner"/>: detach the old id (dead from then on),
    /// create the new one (pending when owned), index and activate it, then drop the old id from its owner's index.
    /// Returns the sessions revoked for the limit, or <see langword="null"/> when the session had ended (logout, revoke,
    /// expiry elsewhere): it is <see cref="RedisSessionState.New"/> then, with only this request's changes, and is never
    /// brought back to life.
    /// </summary>
    private async Task<int?> MoveAsync(RedisSession session, string? owner, int maxSessions, CancellationToken cancellationToken)
    {
        var oldTag = session.Tag!;
        var oldOwner = session.UserTag;
        if (await store.DetachAsync(oldTag, cancellationToken).ConfigureAwait(false) is not { } record)
        {
            session.BecomeNew(keepChanges: true);
            return null;
        }

        // The fields as Redis held them (concurrent commits included), with this request's changes on top.
        session.Data.Load(record.Data);
        session.AssignFreshId();
        var fields = session.Data.AllFields();

        // Regenerating cannot extend a session: the deadline carries over.
        fields.Add(RedisSessionData.Field(RedisSessionFields.Created, record.CreatedAt));
        fields.Add(RedisSessionData.Field(RedisSessionFields.AbsoluteExpiry, record.AbsoluteExpiry));

        if (owner is not null)
        {
            fields.Add(RedisSessionData.Field(RedisSessionFields.User, owner));
            fields.Add(RedisSessionData.Field(RedisSessionFields.Pending, store.PendingMilliseconds));
        }

        if (await CreateAsync(session, fields, cancellationToken).ConfigureAwait(false) is not { } absolute)
        {
            session.BecomeNew(keepChanges: true);
            return null;
        }

        var revoked = 0;
        if (owner is null)
        {
            session.BecomeLive(absolute, userTag: null);
        }
        else
        {
            revoked = await IndexAndActivateAsync(session, owner, absolute, maxSessions, cancellationToken).ConfigureAwait(false);
        }

        if (oldOwner is not null)
        {
            await store.RemoveFromUserAsync(oldOwner, [oldTag], cancellationToken).ConfigureAwait(false);
        }

        return revoked;
    }

    /// <summary>Adds the pending session to its user's index (enforcing the limit), makes it live, revokes the evicted.</summary>
    private async Task<int> IndexAndActivateAsync(RedisSession session, string userTag, long absoluteExpiry, int maxSessions, CancellationToken cancellationToken)
    {
        var tag = session.Tag!;
        var (dead, evictionOrder) = maxSessions > 0
            ? await users.RankAsync(userTag, cancellationToken).ConfigureAwait(false)
            : ([], []);
        // Without a limit nothing ranks the index, so the binding samples a few entries old enough to have idled out.
        var pruneSample = maxSessions > 0 ? 0 : RedisSessionUsers.PruneSample;
        var (evicted, pruneCandidates) = await store.BindUserAsync(userTag, tag, absoluteExpiry, maxSessions, pruneSample, dead, evictionOrder, cancellationToken).ConfigureAwait(false);
        if (!await store.ActivateAsync(tag, cancellationToken).ConfigureAwait(false))
        {
            // Revoked, evicted or expired between the index and the activation: it never became live.
            throw new RedisEdgeUnavailableException("The session was revoked while it was being bound to its user.");
        }

        session.BecomeLive(absoluteExpiry, userTag);
        var revoked = await users.RevokeAsync(userTag, evicted, cancellationToken).ConfigureAwait(false);
        await users.PruneAsync(userTag, pruneCandidates, cancellationToken).ConfigureAwait(false);
        return revoked;
    }

    /// <summary>Creates the session under its fresh id; <see langword="null"/> when a carried-over deadline has passed.</summary>
    private async Task<long?> CreateAsync(RedisSession session, List<KeyValuePair<string, byte[]>> fields, CancellationToken cancellationToken)
    {
        var absolute = await store.CreateAsync(session.Tag!, fields, cancellationToken).ConfigureAwait(false);
        if (absolute == 0)
        {
            // A 256-bit random id collided with an existing key.
            throw new InvalidOperationException("A session could not be created under a fresh id.");
        }

        return absolute > 0 ? absolute : null;
    }
}
