using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The Redis keys of one policy's recent partitions, and for each the one-key array a single-policy call sends, kept in
/// a small direct-mapped table so that a busy partition's key is not formatted and validated again on every request.
/// </summary>
/// <remarks>
/// Bounded by construction: <see cref="Slots"/> entries, each replaced by the next tag that maps to its slot. Entries are
/// immutable and swapped whole. The arrays are shared by concurrent calls: StackExchange.Redis and the rate limiter
/// only read them. The keys depend on the app's key prefix and the policy's <c>SingleHashSlot</c>, both fixed for the
/// life of the policy.
/// </remarks>
internal sealed class PolicyKeys
{
    private const int Slots = 256;

    private readonly Entry?[] _slots = new Entry?[Slots];

    /// <summary>
    /// The one-key array of <paramref name="tag"/>, built with <paramref name="build"/> on a miss. Tags are base64url
    /// SHA-256 digests (or constants), so their first and last characters spread them over the table without hashing.
    /// </summary>
    public RedisKey[] Get<TState>(string tag, TState state, Func<TState, string, RedisKey> build)
    {
        ref var slot = ref _slots[((tag[0] << 5) ^ tag[^1]) & (Slots - 1)];
        var entry = Volatile.Read(ref slot);
        if (entry is not null && string.Equals(entry.Tag, tag, StringComparison.Ordinal))
        {
            return entry.Keys;
        }

        entry = new Entry(tag, [build(state, tag)]);
        Volatile.Write(ref slot, entry);
        return entry.Keys;
    }

    private sealed record Entry(string Tag, RedisKey[] Keys);
}
