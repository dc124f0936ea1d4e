namespace RedisEdge.Internal;

/// <summary>
/// What keeps a near cache from adding a copy that an invalidation or a lost subscription has made unsafe: a counter per
/// key stripe, moved by every invalidation of a key in it, and a generation, moved whenever the subscription drops or
/// is re-verified. A copy read from Redis is admitted only if neither moved since the <see cref="Token"/> taken before
/// the read, and only while the subscription is known to be live.
/// </summary>
/// <remarks>
/// Shared by the response cache's and the sessions' near caches. Not thread-safe on its own: each cache calls it under
/// the lock that also guards its entries, so the check and the add are one step.
/// </remarks>
internal sealed class NearCacheFence
{
    private const int StripeCount = 1024;

    private readonly long[] _stripes = new long[StripeCount];
    private long _generation;

    /// <summary>Whether copies may be served and admitted (the invalidation subscription is verified live).</summary>
    public bool IsLive { get; private set; }

    /// <summary>Taken before the Redis read whose result may be admitted.</summary>
    public Token Snapshot(string key) => new(_generation, _stripes[Stripe(key)]);

    /// <summary>Whether a copy read after <paramref name="token"/> was taken may be held: live, and nothing moved since.</summary>
    public bool Admits(Token token, string key) =>
        IsLive && token.Generation == _generation && token.Stripe == _stripes[Stripe(key)];

    /// <summary>An invalidation of <paramref name="key"/>: reads of it that started before now are not admitted.</summary>
    public void Invalidate(string key) => _stripes[Stripe(key)]++;

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
}
