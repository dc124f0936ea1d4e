namespace RedisEdge.Sessions.Internal;

/// <summary>
/// A user's index of sessions (a sorted set in the user's Redis Cluster slot) checked against the sessions themselves
/// (each in its own slot). The index may name sessions that already ended; it must never miss a live one, so entries
/// are removed only after their session is known to be gone.
/// </summary>
internal sealed class RedisSessionUsers(RedisSessionStore store)
{
    /// <summary>The user's sessions by state: the ones that are gone, and the live ones in eviction order.</summary>
    /// <returns>
    /// <c>Dead</c>: gone (idled out, destroyed), to drop from the index. <c>EvictionOrder</c>: the live ones, least
    /// recently used first (the earliest idle expiry). Sessions other requests are still binding are in neither:
    /// they are never evicted, so a concurrent login is never failed by this one.
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

        var order = live.OrderBy(s => s.IdleExpiresAt).Select(s => s.Tag).ToList();
        return (dead, order);
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
    /// Destroys the given sessions of the user, then drops them from the index. If Redis fails part way, the index
    /// still names every session that may be live, so a retry finds them. Returns how many sessions were destroyed.
    /// </summary>
    public async Task<int> RevokeAsync(string userTag, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        if (tags.Count == 0)
        {
            return 0;
        }

        // One script per session (each in its own slot); StackExchange.Redis pipelines them.
        var results = await Task.WhenAll(tags.Select(t => store.DestroyAsync(t, userTag, cancellationToken))).ConfigureAwait(false);
        await store.RemoveFromUserAsync(userTag, tags, cancellationToken).ConfigureAwait(false);
        var revoked = results.Count(r => r.Deleted);
        if (revoked > 0)
        {
            store.Telemetry.Revoked.Add(revoked);
        }

        return revoked;
    }

    /// <summary>Every indexed tag of the user (those past their absolute deadline pruned), except <paramref name="exceptTag"/>.</summary>
    public async Task<List<string>> TagsAsync(string userTag, string? exceptTag, CancellationToken cancellationToken)
    {
        var indexed = await store.ListUserAsync(userTag, cancellationToken).ConfigureAwait(false);
        return [.. indexed.Select(e => e.Tag).Where(t => t != exceptTag)];
    }

    private async Task<List<(string Tag, (RedisSessionInfo Info, bool Pending)? Peek)>> PeekAllAsync(string userTag, CancellationToken cancellationToken)
    {
        var indexed = await store.ListUserAsync(userTag, cancellationToken).ConfigureAwait(false);
        var peeks = await Task.WhenAll(indexed.Select(e => store.PeekAsync(e.Tag, cancellationToken))).ConfigureAwait(false);
        return [.. indexed.Select((e, i) => (e.Tag, peeks[i]))];
    }
}
