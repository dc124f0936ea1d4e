using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// Reads and writes one request's session: the load (eager, on demand, or blocking in lazy mode), the commit of its
/// changes, and what happens when the response starts. It changes the session's state only through
/// <see cref="RedisSession"/>'s transitions.
/// </summary>
internal sealed class RedisSessionPersistence(RedisSessionStore store, RedisEdgeFailureResponder<RedisSessionOptions> failure, ILogger<RedisSessionPersistence> logger)
{
    public RedisSessionStore Store => store;

    public async Task LoadAsync(RedisSession session, string path, CancellationToken cancellationToken)
    {
        var started = store.Telemetry.Requests.Start();
        if (store.Near.Enabled)
        {
            if (TryServeFromNearCopy(session, out var read))
            {
                return;
            }

            RedisSessionFetch? fetch;
            try
            {
                fetch = await store.FetchAsync(session.Tag!, read.Slide, read.KnownVersion, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisEdgeUnavailableException ex)
            {
                OnLoadFailed(session, ex, started);
                return;
            }

            OnLoaded(session, read.Complete(fetch), path, started);
            return;
        }

        RedisSessionRecord? record;
        try
        {
            record = await store.LoadAsync(session.Tag!, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisEdgeUnavailableException ex)
        {
            OnLoadFailed(session, ex, started);
            return;
        }

        OnLoaded(session, record, path, started);
    }

    /// <summary>The synchronous first touch in lazy mode: blocks for at most <c>Failure:Timeout</c>.</summary>
    public void Load(RedisSession session)
    {
        var started = store.Telemetry.Requests.Start();
        if (store.Near.Enabled)
        {
            if (TryServeFromNearCopy(session, out var read))
            {
                return;
            }

            RedisSessionFetch? fetch;
            try
            {
                fetch = store.Fetch(session.Tag!, read.Slide, read.KnownVersion);
            }
            catch (RedisEdgeUnavailableException ex)
            {
                OnLoadFailed(session, ex, started);
                return;
            }

            OnLoaded(session, read.Complete(fetch), "blocking", started);
            return;
        }

        RedisSessionRecord? record;
        try
        {
            record = store.Load(session.Tag!);
        }
        catch (RedisEdgeUnavailableException ex)
        {
            OnLoadFailed(session, ex, started);
            return;
        }

        OnLoaded(session, record, "blocking", started);
    }

    /// <summary>
    /// Serves the session from this instance's near copy when the copy may answer; otherwise begins the read that asks
    /// Redis (its snapshot is taken here, just before that call).
    /// </summary>
    private bool TryServeFromNearCopy(RedisSession session, out RedisSessionNearRead read)
    {
        var lookup = store.Near.Find(session.Tag!, session.Transport.IncomingVersion, out var copy);
        if (lookup == RedisSessionNearCache.Lookup.Hit)
        {
            OnNearHit(session, copy);
            read = default;
            return true;
        }

        read = RedisSessionNearRead.Begin(store.Near, session.Tag!, lookup, copy);
        return false;
    }

    public async Task CommitAsync(RedisSession session, CancellationToken cancellationToken)
    {
        if (session.State is RedisSessionState.Unloaded or RedisSessionState.Degraded or RedisSessionState.Failed || !session.Data.HasChanges)
        {
            return;
        }

        if (session.ReadOnly || session.State == RedisSessionState.Ended)
        {
            Log.ChangesDiscarded(logger, session.ReadOnly ? "the endpoint is read-only" : "the session ended");
            session.Data.DiscardChanges();
            return;
        }

        try
        {
            if (session.State == RedisSessionState.New)
            {
                await CreateAsync(session, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await CommitChangesAsync(session, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisSessionLimitExceededException)
        {
            session.Fail(ex);
            throw;
        }
    }

    /// <summary>
    /// When the response starts: commit (so the client cannot race ahead of its own write), then send the id. A response
    /// the endpoint starts was committed just before, by <see cref="RedisSessionResponseBodyFeature"/>; this commit is
    /// for responses started some other way (by the server after the request, or by code holding the server's own body).
    /// </summary>
    public async Task OnResponseStartingAsync(RedisSession session, HttpContext context)
    {
        try
        {
            await CommitAsync(session, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisSessionLimitExceededException)
        {
            // A body may already be under way and would follow any status: abort, so no client reads it as an
            // answer. The status is only for the server's own logs.
            Log.CommitFailedAfterStart(logger, ex);
            var response = context.Response;
            response.StatusCode = ex is RedisEdgeUnavailableException ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status413PayloadTooLarge;
            if (ex is RedisEdgeUnavailableException unavailable)
            {
                response.Headers.RetryAfter = RedisEdgeProblems.RetryAfterSeconds(unavailable.RetryAfter).ToString(CultureInfo.InvariantCulture);
            }

            response.Headers.CacheControl = "no-store";
            context.Abort();
            return;
        }

        session.Transport.Write();
    }

    private void OnNearHit(RedisSession session, RedisSessionNearCache.Entry copy)
    {
        store.Telemetry.NearCacheHits.Add(1);
        session.BecomeLoaded(copy.Record);
    }

    private void OnLoaded(RedisSession session, RedisSessionRecord? record, string path, long started)
    {
        if (record is null)
        {
            // Expired, destroyed, or never issued by us: never adopt the id, start over with a fresh one.
            store.Telemetry.ExpiredOnArrival.Add(1);
            store.Telemetry.Requests.Record(null, "expired_on_arrival", started);
            Log.SessionNotFound(logger);
            session.BecomeNew();
            return;
        }

        store.Telemetry.RecordLoad(path);
        store.Telemetry.Requests.Record(null, "loaded", started);
        session.BecomeLoaded(record);
    }

    private void OnLoadFailed(RedisSession session, RedisEdgeUnavailableException exception, long started)
    {
        // The current mode, so Failure:Mode follows a configuration reload; a failed (FailClosed) session is recorded
        // in Core's failure-mode counter by the middleware when it answers 503. The requests counter has both now.
        var failOpen = failure.Mode == RedisFailureMode.FailOpen;
        store.Telemetry.Requests.Record(null, failOpen ? "fail_open" : "redis_unavailable", started);
        if (failOpen)
        {
            failure.Record(policy: null, RedisFailureMode.FailOpen, exception);
            session.BecomeDegraded();
        }
        else
        {
            session.Fail(exception);
        }
    }

    private async Task CreateAsync(RedisSession session, CancellationToken cancellationToken)
    {
        if (!session.Transport.CanEstablish)
        {
            // The cookie would be suppressed (no consent, not essential): keep the changes for this request only.
            Log.SessionNotEstablished(logger);
            session.Data.AcceptChanges();
            return;
        }

        var fields = session.Data.AllFields();
        if (fields.Count == 0)
        {
            session.Data.DiscardChanges();
            return;
        }

        if (session.Tag is null)
        {
            session.AssignFreshId();
        }

        var absolute = await store.CreateAsync(session.Tag!, fields, cancellationToken).ConfigureAwait(false);
        if (absolute <= 0)
        {
            // 0 means a 256-bit random id collided with a live one; -1 cannot happen for a brand-new session.
            throw new InvalidOperationException("A new session could not be created under a fresh id.");
        }

        store.Telemetry.Created.Add(1);
        session.BecomeLive(absolute, session.UserTag);
    }

    private async Task CommitChangesAsync(RedisSession session, CancellationToken cancellationToken)
    {
        var (sets, removes, clear) = session.Data.ChangedFields();
        var near = store.Near;
        var token = near.Snapshot(session.Tag!);
        var sentAt = near.Now;
        if (await store.CommitAsync(session.Tag!, clear, sets, removes, cancellationToken).ConfigureAwait(false) is not { } committed)
        {
            // Destroyed, revoked or expired meanwhile: the commit wrote nothing, the session stays dead.
            Log.CommitOnEndedSession(logger);
            session.BecomeEnded();
            return;
        }

        store.Telemetry.Committed.Add(1);
        var loadedVersion = session.Version;
        session.Data.AcceptChanges();
        session.Committed(committed.Version);
        if (near.Enabled && committed.Version == loadedVersion + 1)
        {
            // Nothing else was committed since this request's load, so what it holds now is exactly what Redis holds:
            // keep it, so the writer's next request here needs no load. The commit's own invalidations (local, and its
            // message when it echoes back first) are at this version, which the fence admits; any other move since the
            // snapshot (a newer commit's message, a deletion) refuses the copy.
            near.Store(session.Tag!, token, new RedisSessionRecord
            {
                Data = new Dictionary<string, byte[]>(session.Data.Values, StringComparer.Ordinal),
                CreatedAt = session.CreatedAt,
                AbsoluteExpiry = session.AbsoluteExpiry,
                UserTag = session.UserTag,
                Version = committed.Version,
            }, sentAt, committed.TtlMilliseconds, slid: true);
        }
    }
}
