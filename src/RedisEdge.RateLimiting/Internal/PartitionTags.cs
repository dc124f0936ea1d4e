using System.Buffers;
using System.Globalization;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The hash tags of one policy's partitions: a SHA-256 of the partition's kind, name and value (see
/// <see cref="PartitionResolver.Tag"/>), remembered in a small direct-mapped table so that a busy partition (one client
/// address or API key sending request after request) is not hashed, nor its tag string allocated, per request.
/// </summary>
/// <remarks>
/// Bounded by construction: <see cref="Slots"/> entries, each replaced by the next value that maps to its slot, and
/// values longer than <see cref="MaxCachedValueLength"/> are hashed every time instead of kept. Entries are immutable
/// and swapped whole, so readers on other threads see an old entry or a new one, never a mix.
/// </remarks>
internal sealed class PartitionTags
{
    private const int Slots = 256;
    private const int MaxCachedValueLength = 128;

    private readonly Entry?[] _slots = new Entry?[Slots];

    /// <summary>The tag of the partition <paramref name="value"/> of <paramref name="kind"/> named <paramref name="name"/>.</summary>
    /// <remarks>Per policy, <paramref name="name"/> is fixed for each kind, so the table keys on kind and value.</remarks>
    public string Get(RedisRateLimitPartitionKind kind, string? name, string value)
    {
        if (value.Length > MaxCachedValueLength)
        {
            return Hash(kind, name, value);
        }

        ref var slot = ref _slots[(value.GetHashCode() ^ (int)kind) & (Slots - 1)];
        var entry = Volatile.Read(ref slot);
        if (entry is not null && entry.Kind == kind && string.Equals(entry.Value, value, StringComparison.Ordinal))
        {
            return entry.Tag;
        }

        var tag = Hash(kind, name, value);
        Volatile.Write(ref slot, new Entry(kind, value, tag));
        return tag;
    }

    /// <summary>
    /// SHA-256 of <c>{kind}:{name}:{value}</c> (the kind as its number), composed in a buffer instead of a string.
    /// </summary>
    public static string Hash(RedisRateLimitPartitionKind kind, string? name, string value)
    {
        var length = 12 + (name?.Length ?? 0) + value.Length;
        char[]? rented = null;
        var buffer = length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            ((int)kind).TryFormat(buffer, out var written, provider: CultureInfo.InvariantCulture);
            buffer[written++] = ':';
            name.AsSpan().CopyTo(buffer[written..]);
            written += name?.Length ?? 0;
            buffer[written++] = ':';
            value.AsSpan().CopyTo(buffer[written..]);
            written += value.Length;
            return RedisKeyBuilder.Hash(buffer[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    private sealed record Entry(RedisRateLimitPartitionKind Kind, string Value, string Tag);
}
