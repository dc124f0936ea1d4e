namespace RedisEdge.Internal;

/// <summary>
/// What keeps a near cache from adding a copy that an invalidation or a lost subscription has made unsafe: a counter per
/// key stripe, moved by every invalidation of a key in it, and a generation, moved whenever the subscription drops or
/// is re-verified. A copy read from Redis is admitted only if neither moved since the <see cref="Token"/> taken before
/// the read, and only while the subscription is known to be live.
/// </summary>
/// <remarks>
/// <para>
/// An invalidation may carry a version: "copies older than this version are stale" (a session commit's message). The
/// stripe then also remembers the run of such invalidations of one key that moved it last, so a copy at that version
/// or newer is still admitted when only that run moved the stripe since its token. That is what lets an instance keep
/// the copy its own commit left, whichever comes first: the commit's reply or its own message echoed back.
/// </para>
/// <para>
/// Shared by the response cache's and the sessions' near caches. Not thread-safe on its own: each cache calls it under
/// the lock that also guards its entries, so the check and the add are one step.
/// </para>
/// </remarks>
internal sealed class NearCacheFence
{
    private const int StripeCount = 1024;

    private readonly long[] _stripes = new long[StripeCount];
    private readonly VersionRun[] _runs = new VersionRun[StripeCount];
    private long _generation;

    /// <summary>Whether copies may be served and admitted (the invalidation subscription is verified live).</summary>
    public bool IsLive { get; private set; }

    /// <summary>Taken before the Redis read whose result may be admitted.</summary>
    public Token Snapshot(string key) => new(_generation, _stripes[Stripe(key)]);

    /// <summary>
    /// Whether a copy read after <paramref name="token"/> was taken may be held: live, and nothing moved since, or
    /// (for a copy at <paramref name="version"/>) only invalidations of this key at that version or older.
    /// </summary>
    public bool Admits(Token token, string key, long? version = null)
    {
        if (!IsLive || token.Generation != _generation)
        {
            return false;
        }

        var stripe = Stripe(key);
        if (token.Stripe == _stripes[stripe])
        {
            return true;
        }

        ref readonly var run = ref _runs[stripe];
        return version is { } held && run.Key is not null && token.Stripe >= run.Since &&
            run.MaxVersion <= held && string.Equals(run.Key, key, StringComparison.Ordinal);
    }

    /// <summary>
    /// An invalidation of <paramref name="key"/>: reads of it that started before now are not admitted, except, when
    /// <paramref name="version"/> is given, copies at that version or newer.
    /// </summary>
    public void Invalidate(string key, long? version = null)
    {
        var stripe = Stripe(key);
        ref var count = ref _stripes[stripe];
        ref var run = ref _runs[stripe];
        if (version is not { } v)
        {
            run = default;
        }
        else if (run.Key is not null && string.Equals(run.Key, key, StringComparison.Ordinal))
        {
            run.MaxVersion = Math.Max(run.MaxVersion, v);
        }
        else
        {
            // A new run: tokens taken from now on have seen every move before it.
            run = new VersionRun(key, v, count);
        }

        count++;
    }

    /// <summary>The subscription dropped: nothing is served or admitted until <see cref="Resume"/>.</summary>
    public void Suspend()
    {
        IsLive = false;
        _generation++;
    }

    /// <summary>The subscription is verified live again; reads that started before now are not admitted.</summary>
    public void Resume(bool live = true)
    {
        _generation++;
        IsLive = live;
    }

    private static int Stripe(string key) => (int)((uint)StringComparer.Ordinal.GetHashCode(key) % StripeCount);

    /// <summary>The generation and the key's stripe counter when a read began.</summary>
    internal readonly record struct Token(long Generation, long Stripe);

    /// <summary>
    /// The versioned invalidations of one key that moved a stripe from <see cref="Since"/> on, and the newest version
    /// among them. No key: the stripe's last move was of another kind.
    /// </summary>
    private struct VersionRun(string key, long maxVersion, long since)
    {
        public string? Key = key;
        public long MaxVersion = maxVersion;
        public long Since = since;
    }
}
