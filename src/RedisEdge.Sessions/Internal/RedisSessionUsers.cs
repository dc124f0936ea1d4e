using Microsoft.Extensions.Logging;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// A user's index of sessions (a sorted set in the user's Redis Cluster slot) checked against the sessions themselves
/// (each in its own slot). The index may name sessions that already ended; it must never miss a live one, so entries
/// are removed only after their session is known to be gone. Every operation reads the index page by page and checks
/// or destroys at most <see cref="RedisSessionStore.BatchSize"/> sessions per round trip.
/// </summary>
internal sealed class RedisSessionUsers(RedisSessionStore store, ILogger<RedisSessionUsers> logger)
{
    /// <summary>
    /// How many index entries old enough to have idled out a binding checks (without a per-user limit, where nothing
    /// else would find them): more than the one entry each login adds, so dead entries cannot pile up.
    /// </summary>
    public const int PruneSample = 8;

    /// <summary>The user's sessions by state: the ones that are gone, and the live ones in eviction order.</summary>
    /// <returns>
    /// <c>Dead</c>: gone (idled out, destroyed), to drop from the index. <c>EvictionOrder</c>: the live ones, least
    /// recently used first (the earliest idle expiry). Sessions other requests are still binding are in neither:
    /// they are never evicted, so a concurrent login is never failed by this one. Each list holds at most
    /// <see cref="RedisSessionStore.BatchSize"/> tags, so one binding sends a bounded script; the rest waits for the next.
    /// </returns>
    public async Task<(List<string> Dead, List<string> EvictionOrder)> RankAsync(string userTag, CancellationToken cancellationToken)
    {
        var sessions = await PeekAllAsync(userTag, cancellationToken).ConfigureAwait(false);
        var dead = new List<string>();
        var live = new List<(string Tag, DateTimeOffset IdleExpiresAt)>();
        foreach (var (tag, peek) in sessions)
        {
            if (peek is not { } found)
            {
                dead.Add(tag);
            }
            else if (!found.Pending)
            {
                live.Add((tag, found.Info.IdleExpiresAt));
            }
        }

        var order = live.OrderBy(s => s.IdleExpiresAt).Select(s => s.Tag).Take(RedisSessionStore.BatchSize).ToList();
        return ([.. dead.Take(RedisSessionStore.BatchSize)], order);
    }

    /// <summary>The user's live sessions in index order; entries of sessions that are gone are dropped on the way.</summary>
    public async Task<IReadOnlyList<RedisSessionInfo>> ListAsync(string userTag, CancellationToken cancellationToken)
    {
        var sessions = await PeekAllAsync(userTag, cancellationToken).ConfigureAwait(false);
        var dead = new List<string>();
        var live = new List<RedisSessionInfo>(sessions.Count);
        foreach (var (tag, peek) in sessions)
        {
            if (peek is null)
            {
                dead.Add(tag);
            }
            else if (!peek.Value.Pending)
            {
                live.Add(peek.Value.Info);
            }
        }

        await store.RemoveFromUserAsync(userTag, dead, cancellationToken).ConfigureAwait(false);
        return live;
    }

    /// <summary>
    /// Destroys the given sessions of the user, then drops them from the index, a batch at a time. If Redis fails part
    /// way, the index still names every session that may be live, so a retry finds them. Returns how many sessions
    /// were destroyed.
    /// </summary>
    public async Task<int> RevokeAsync(string userTag, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        var revoked = 0;
        foreach (var chunk in tags.Chunk(RedisSessionStore.BatchSize))
        {
            // One script per session (each in its own slot); StackExchange.Redis pipelines them.
            var results = await Task.WhenAll(chunk.Select(t => store.DestroyAsync(t, userTag, cancellationToken))).ConfigureAwait(false);
            await store.RemoveFromUserAsync(userTag, chunk, cancellationToken).ConfigureAwait(false);
            var destroyed = results.Count(r => r.Deleted);
            if (destroyed > 0)
            {
                store.Telemetry.Revoked.Add(destroyed);
            }

            revoked += destroyed;
        }

        return revoked;
    }

    /// <summary>
    /// Revokes every indexed session of the user except <paramref name="exceptTag"/>: reads the first page, destroys
    /// it, drops it from the index, and starts over until only the exception is left.
    /// </summary>
    public async Task<int> RevokeAllAsync(string userTag, string? exceptTag, CancellationToken cancellationToken)
    {
        var revoked = 0;
        while (true)
        {
            var page = await store.ListUserAsync(userTag, 0, RedisSessionStore.BatchSize + 1, cancellationToken).ConfigureAwait(false);
            var tags = page.Select(e => e.Tag).Where(t => t != exceptTag).Take(RedisSessionStore.BatchSize).ToList();
            if (tags.Count == 0)
            {
                return revoked;
            }

            revoked += await RevokeAsync(userTag, tags, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Drops the <paramref name="candidates"/> whose sessions are gone from the index. Housekeeping after a binding
    /// succeeded: a failure is logged and left to the next binding, never failing the login.
    /// </summary>
    public async Task PruneAsync(string userTag, IReadOnlyCollection<string> candidates, CancellationToken cancellationToken)
    {
        if (candidates.Count == 0)
        {
            return;
        }

        try
        {
            var peeks = await Task.WhenAll(candidates.Select(t => store.PeekAsync(t, cancellationToken))).ConfigureAwait(false);
            var dead = candidates.Where((_, i) => peeks[i] is null).ToList();
            await store.RemoveFromUserAsync(userTag, dead, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisEdgeUnavailableException ex)
        {
            Log.PruneFailed(logger, ex);
        }
    }

    /// <summary>Every indexed session with its state, read and checked a page at a time.</summary>
    private async Task<List<(string Tag, (RedisSessionInfo Info, bool Pending)? Peek)>> PeekAllAsync(string userTag, CancellationToken cancellationToken)
    {
        var all = new List<(string, (RedisSessionInfo, bool)?)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var offset = 0; ; offset += RedisSessionStore.BatchSize)
        {
            var page = await store.ListUserAsync(userTag, offset, RedisSessionStore.BatchSize, cancellationToken).ConfigureAwait(false);
            var peeks = await Task.WhenAll(page.Select(e => store.PeekAsync(e.Tag, cancellationToken))).ConfigureAwait(false);
            for (var i = 0; i < page.Count; i++)
            {
                // A concurrent change of the index can shift a member from one page to the next.
                if (seen.Add(page[i].Tag))
                {
                    all.Add((page[i].Tag, peeks[i]));
                }
            }

            if (page.Count < RedisSessionStore.BatchSize)
            {
                return all;
            }
        }
    }
}
