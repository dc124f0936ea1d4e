using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// Builds every Redis key RedisEdge writes: <c>{prefix}:{feature}:{{tag}}[:suffix]</c>.
/// </summary>
/// <remarks>
/// The <c>{tag}</c> is a Redis Cluster hash tag, so every key of one script call (they share a tag) lands in one
/// hash slot. Client input never becomes part of a key: callers pass it through <see cref="Hash(string)"/>, and
/// <see cref="Key"/> refuses any tag or suffix outside a small safe alphabet.
/// </remarks>
internal sealed class RedisKeyBuilder
{
    private const int MaxTagLength = 64;
    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    // Checked on every key a request builds: vectorized span searches instead of LINQ over the string, which
    // allocated an enumerator per check (three per key).
    private static readonly SearchValues<char> TagChars = SearchValues.Create(Alphanumerics + "_-");
    private static readonly SearchValues<char> TokenChars = SearchValues.Create(Alphanumerics + "_.-");
    private static readonly SearchValues<char> SuffixChars = SearchValues.Create(Alphanumerics + "_.:-");

    public RedisKeyBuilder(IOptions<RedisEdgeOptions> options)
        : this(options.Value.Redis.KeyPrefix)
    {
    }

    public RedisKeyBuilder(string prefix)
    {
        if (!IsValidPrefix(prefix))
        {
            throw new ArgumentException($"Key prefix '{prefix}' is invalid.", nameof(prefix));
        }

        Prefix = prefix;
    }

    public string Prefix { get; }

    /// <summary>
    /// SHA-256 of the UTF-8 bytes of <paramref name="clientValue"/>, base64url without padding (43 characters
    /// of <c>[A-Za-z0-9_-]</c>). Use it for any value a client controls before it goes into a key.
    /// </summary>
    public static string Hash(string clientValue)
    {
        ArgumentNullException.ThrowIfNull(clientValue);
        return Hash(clientValue.AsSpan());
    }

    /// <summary>
    /// The same as <see cref="Hash(string)"/> over characters the caller composed in a buffer, so a value made of
    /// several parts needs no intermediate string.
    /// </summary>
    public static string Hash(ReadOnlySpan<char> clientValue)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(clientValue.Length);
        byte[]? rented = null;
        var buffer = maxBytes <= 512 ? stackalloc byte[maxBytes] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var length = Encoding.UTF8.GetBytes(clientValue, buffer);
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer[..length], digest);
            return Base64Url.EncodeToString(digest);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The length of what <see cref="Hash(ReadOnlySpan{char})"/> returns (SHA-256, base64url).</summary>
    public const int HashLength = 43;

    /// <summary>
    /// The same characters as <see cref="Hash(ReadOnlySpan{char})"/>, written to <paramref name="destination"/>
    /// (<see cref="HashLength"/> long), for a caller that may find the string already made (such as a cache key).
    /// </summary>
    public static void Hash(ReadOnlySpan<char> clientValue, Span<char> destination)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(clientValue.Length);
        byte[]? rented = null;
        var buffer = maxBytes <= 512 ? stackalloc byte[maxBytes] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var length = Encoding.UTF8.GetBytes(clientValue, buffer);
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer[..length], digest);
            Base64Url.EncodeToChars(digest, destination[..HashLength]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The start every key of <paramref name="feature"/> has: <c>{prefix}:{feature}:</c>.</summary>
    public string FeaturePrefix(string feature)
    {
        EnsureToken(feature, nameof(feature), allowColon: false);
        return $"{Prefix}:{feature}:";
    }

    /// <summary>
    /// <c>{prefix}:{feature}:{{tag}}</c> followed by <c>:suffix</c> when one is given.
    /// </summary>
    /// <param name="feature">A constant feature name such as <c>rl</c> or <c>sess</c>.</param>
    /// <param name="tag">The hash tag: a <see cref="Hash(string)"/> result or a constant of <c>[A-Za-z0-9_-]</c>, 1 to 64 characters.</param>
    /// <param name="suffix">A constant such as a policy name (<c>[A-Za-z0-9_.:-]</c>), or <see langword="null"/>.</param>
    public RedisKey Key(string feature, string tag, string? suffix = null)
    {
        EnsureToken(feature, nameof(feature), allowColon: false);
        if (tag.Length is 0 or > MaxTagLength || !IsTagSafe(tag))
        {
            throw new ArgumentException("A key tag must be 1-64 characters of [A-Za-z0-9_-]; hash client input with RedisKeyBuilder.Hash.", nameof(tag));
        }

        if (suffix is null)
        {
            return (RedisKey)$"{Prefix}:{feature}:{{{tag}}}";
        }

        EnsureToken(suffix, nameof(suffix), allowColon: true);
        return (RedisKey)$"{Prefix}:{feature}:{{{tag}}}:{suffix}";
    }

    internal static bool IsValidPrefix(string? prefix) =>
        !string.IsNullOrEmpty(prefix) && prefix.Length <= 32 && !prefix.AsSpan().ContainsAnyExcept(TokenChars);

    private static bool IsTagSafe(string tag) => !tag.AsSpan().ContainsAnyExcept(TagChars);

    private static void EnsureToken(string value, string name, bool allowColon)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 128 ||
            value.AsSpan().ContainsAnyExcept(allowColon ? SuffixChars : TokenChars))
        {
            throw new ArgumentException($"'{value}' is not a valid key part: use constant names of [A-Za-z0-9_.-], and hash client input with RedisKeyBuilder.Hash.", name);
        }
    }
}
