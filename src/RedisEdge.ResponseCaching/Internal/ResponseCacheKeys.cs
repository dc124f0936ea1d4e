using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Builds the Redis keys of a request: the entry (one per variant), the resource set (every variant of one URL)
/// and the tag sets. Client input only ever reaches a key as a SHA-256 hash, and every key of a policy carries
/// the policy's hash tag, so each script touches one slot.
/// </summary>
/// <remarks>
/// Layout: <c>{prefix}:rc:{{policy}}:e:{variant}</c>, <c>...:r:{resource}</c>, <c>...:t:{tag}</c>, where
/// <c>policy</c>, <c>variant</c>, <c>resource</c> and <c>tag</c> are base64url SHA-256 hashes. Every component
/// of a variant is written with its length, so no two different requests compose the same string.
/// </remarks>
internal sealed class ResponseCacheKeys
{
    private readonly RedisKeyBuilder _keys;
    private readonly ConditionalWeakTable<ResponseCachePolicy, string> _entryPrefixes = new();
    private readonly ConditionalWeakTable<ResponseCachePolicy, string> _sequences = new();

    // Entry keys of recently requested variants: a hit on a hot key then costs no SHA-256 (see KeyHashMemo). The
    // variants are the near cache's keys' sources and are not secrets beyond what the cache itself holds.
    private readonly KeyHashMemo _entryKeys = new(capacity: 4096, maxLength: 512);

    public ResponseCacheKeys(RedisKeyBuilder keys)
    {
        _keys = keys;
        Channel = RedisChannel.Literal(keys.FeaturePrefix(RedisResponseCachingDefaults.KeyFeature) + "events");
    }

    /// <summary>The pub/sub channel fills, evictions and abandoned leases are published on.</summary>
    public RedisChannel Channel { get; }

    public RedisKey Entry(ResponseCachePolicy policy, string variantHash) =>
        _keys.Key(RedisResponseCachingDefaults.KeyFeature, policy.HashTag, "e:" + variantHash);

    public RedisKey Tag(ResponseCachePolicy policy, string tag) =>
        _keys.Key(RedisResponseCachingDefaults.KeyFeature, policy.HashTag, "t:" + RedisKeyBuilder.Hash(tag));

    /// <summary>The policy's index of stored entries (for its bound) and the index's metadata (sizes, sets joined).</summary>
    public (RedisKey Index, RedisKey Meta) Bound(ResponseCachePolicy policy) =>
        (_keys.Key(RedisResponseCachingDefaults.KeyFeature, policy.HashTag, "i"), _keys.Key(RedisResponseCachingDefaults.KeyFeature, policy.HashTag, "im"));

    public RedisKey Resource(ResponseCachePolicy policy, string resource) =>
        _keys.Key(RedisResponseCachingDefaults.KeyFeature, policy.HashTag, "r:" + RedisKeyBuilder.Hash(resource));

    /// <summary>The policy's eviction sequence (see evict_tag.lua): <c>...:{policy}:g</c>.</summary>
    public RedisKey Sequence(ResponseCachePolicy policy) =>
        _keys.Key(RedisResponseCachingDefaults.KeyFeature, policy.HashTag, "g");

    /// <summary>The policy's eviction sequence, made once per policy: every lookup sends it.</summary>
    private RedisKey CachedSequence(ResponseCachePolicy policy) =>
        _sequences.TryGetValue(policy, out var sequence)
            ? sequence
            : _sequences.GetValue(policy, p => Sequence(p).ToString());

    /// <summary>The eviction sequence of the policy an entry key belongs to: the entry's prefix up to its hash tag.</summary>
    public static RedisKey SequenceOf(RedisKey entry)
    {
        var name = entry.ToString();
        return string.Concat(name.AsSpan(0, name.IndexOf('}', StringComparison.Ordinal) + 1), ":g");
    }

    /// <summary>The eviction epoch of a tag or resource set: the set's key followed by <c>:g</c>.</summary>
    public static RedisKey Epoch(RedisKey set) => set.Append(":g");

    /// <summary>The keys of one eviction step of <paramref name="set"/>: the set, its epoch, the policy's sequence.</summary>
    public RedisKey[] EvictKeys(ResponseCachePolicy policy, RedisKey set) => [set, Epoch(set), Sequence(policy)];

    /// <summary>
    /// The keys of one request under <paramref name="policy"/>. The variant string is composed in a pooled buffer and
    /// hashed from it, and the entry key is the policy's cached prefix and the hash: a hit allocates the hash and the key,
    /// no builder. The resource string and the tags' keys are made only if a fill needs them.
    /// </summary>
    public CacheRequestKeys ForRequest(HttpContext context, ResponseCachePolicy policy)
    {
        var request = context.Request;
        var writer = new VariantWriter(256);
        try
        {
            writer.Append("v1");

            // http and https responses are not interchangeable (absolute URLs, HSTS, secure cookies' absence).
            writer.AppendLower(request.IsHttps ? "https" : request.Scheme);
            writer.AppendLower(request.Host.Value ?? string.Empty);
            writer.AppendLower(request.PathBase.Value ?? string.Empty);

            // The resource is the path as the app routes it, so EvictAsync finds it from that path under any PathBase;
            // the PathBase still selects the variant.
            var path = request.Path;
            // Request.Query makes (and keeps) a query feature on first use: a request without a query does not need one.
            var query = request.QueryString.HasValue ? request.Query : QueryCollection.Empty;
            if (policy.VaryByAllQuery && query.Count == 0)
            {
                // The resource string of a path alone is "{length}:{lower-cased path};".
                var lower = path.HasValue ? path.Value! : "/";
                writer.AppendResourceOfPath(lower);
            }
            else
            {
                // Composed in a second pooled buffer, in ResourceString's format; the string itself is made only if a
                // fill needs the resource set's key.
                AppendResource(ref writer, policy, path, query);
            }

            foreach (var header in policy.Headers)
            {
                writer.AppendLower(header);
                writer.Append(request.Headers[header]);
            }

            foreach (var name in policy.RouteValues)
            {
                writer.AppendLower(name);
                writer.Append(Convert.ToString(request.RouteValues.GetValueOrDefault(name), CultureInfo.InvariantCulture) ?? string.Empty);
            }

            if (policy.VaryByUser)
            {
                writer.Append(UserId(context.User) ?? string.Empty);
                foreach (var type in policy.Claims)
                {
                    writer.Append(type);
                    var values = context.User.FindAll(type).Select(c => c.Value).ToArray();
                    writer.Append(new StringValues(values));
                }
            }

            var entry = (RedisKey)MemoizedEntryKey(EntryPrefix(policy), writer.Written);
            List<string>? tags = null;
            foreach (var template in policy.Tags)
            {
                // Resolved now, while the request's route values are there; hashed only if a fill needs the keys.
                var tag = template.Resolve(request.RouteValues);
                if (!(tags ??= new List<string>(policy.Tags.Length)).Contains(tag, StringComparer.Ordinal))
                {
                    tags.Add(tag);
                }
            }

            return new CacheRequestKeys(entry, CachedSequence(policy), this, policy, resource: null, path, query, tags);
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>
    /// <see cref="EntryKey"/>, taken from the memo when this instance made it recently. The memo is looked up by the
    /// prefix's length, the prefix and the variant, so two policies never share an entry key.
    /// </summary>
    internal string MemoizedEntryKey(string prefix, ReadOnlySpan<char> variant)
    {
        var length = 1 + prefix.Length + variant.Length;
        char[]? rented = null;
        var source = length <= 256 ? stackalloc char[length] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            source[0] = (char)prefix.Length;
            prefix.CopyTo(source[1..]);
            variant.CopyTo(source[(1 + prefix.Length)..]);
            var chars = source[..length];
            if (!_entryKeys.TryGet(chars, out var key))
            {
                key = EntryKey(prefix, variant);
                _entryKeys.Add(chars, key);
            }

            return key;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// <paramref name="prefix"/> followed by <see cref="RedisKeyBuilder.Hash(ReadOnlySpan{char})"/> of
    /// <paramref name="variant"/>, composed in one string: the hash is not made a string of its own first.
    /// </summary>
    internal static string EntryKey(string prefix, ReadOnlySpan<char> variant)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        var maxBytes = Encoding.UTF8.GetMaxByteCount(variant.Length);
        byte[]? rented = null;
        var utf8 = maxBytes <= 512 ? stackalloc byte[maxBytes] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(variant, utf8)], digest);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        var length = prefix.Length + Base64Url.GetEncodedLength(digest.Length);
        char[]? rentedChars = null;
        var chars = length <= 256 ? stackalloc char[length] : (rentedChars = ArrayPool<char>.Shared.Rent(length));
        try
        {
            prefix.CopyTo(chars);
            Base64Url.EncodeToChars(digest, chars[prefix.Length..]);
            return new string(chars[..length]);
        }
        finally
        {
            if (rentedChars is not null)
            {
                ArrayPool<char>.Shared.Return(rentedChars);
            }
        }
    }

    /// <summary>
    /// Appends <see cref="ResourceString"/> of the URL to <paramref name="writer"/> as one value, without making the string
    /// or sorting with LINQ: the query's keys are sorted in a pooled array. Query keys differ by more than case
    /// (<see cref="QueryCollection"/> is case-insensitive), so each lower-cased key is its own group.
    /// </summary>
    private static void AppendResource(ref VariantWriter writer, ResponseCachePolicy policy, PathString path, IQueryCollection query)
    {
        var resource = new VariantWriter(256);
        string[]? names = null;
        try
        {
            resource.AppendLower(path.HasValue ? path.Value! : "/");
            if (policy.VaryByAllQuery)
            {
                names = ArrayPool<string>.Shared.Rent(query.Count);
                var count = 0;
                foreach (var key in query.Keys)
                {
                    names[count++] = key.ToLowerInvariant();
                }

                var sorted = names.AsSpan(0, count);
                sorted.Sort(StringComparer.Ordinal);
                foreach (var key in sorted)
                {
                    resource.Append(key);
                    resource.Append(query[key]);
                }
            }
            else
            {
                foreach (var key in policy.QueryKeys)
                {
                    resource.Append(key);
                    resource.Append(query[key]);
                }
            }

            writer.Append(resource.Written);
        }
        finally
        {
            if (names is not null)
            {
                ArrayPool<string>.Shared.Return(names, clearArray: true);
            }

            resource.Dispose();
        }
    }

    /// <summary><c>{prefix}:rc:{{policy}}:e:</c>, made once per policy (a reload makes new policies, and new prefixes).</summary>
    private string EntryPrefix(ResponseCachePolicy policy) =>
        _entryPrefixes.TryGetValue(policy, out var prefix)
            ? prefix
            : _entryPrefixes.GetValue(policy, p => Entry(p, string.Empty).ToString());

    /// <summary>
    /// The keys a fill uses: the entry, the policy's eviction sequence, the resource set and the tag sets it is added
    /// to, the eviction epochs of those sets, then the policy's bound index and its metadata (fill.lua).
    /// </summary>
    public RedisKey[] FillKeys(RedisKey entry, ResponseCachePolicy policy, string resource, List<string>? tags)
    {
        var sets = 1 + (tags?.Count ?? 0);
        var keys = new RedisKey[2 + (2 * sets) + 2];
        keys[0] = entry;
        keys[1] = Sequence(policy);
        keys[2] = Resource(policy, resource);
        for (var i = 1; i < sets; i++)
        {
            keys[2 + i] = Tag(policy, tags![i - 1]);
        }

        for (var i = 0; i < sets; i++)
        {
            keys[2 + sets + i] = Epoch(keys[2 + i]);
        }

        (keys[^2], keys[^1]) = Bound(policy);
        return keys;
    }

    /// <summary>
    /// The resource string of a URL under <paramref name="policy"/>: the lower-cased path and the query values the
    /// policy varies by (every query key by default), keys lower-cased and sorted, values in order.
    /// </summary>
    public static string ResourceString(ResponseCachePolicy policy, PathString path, IQueryCollection query)
    {
        var builder = new StringBuilder();
        Append(builder, (path.HasValue ? path.Value! : "/").ToLowerInvariant());
        if (policy.VaryByAllQuery)
        {
            // No query (most requests): nothing to append, and no grouping or sorting to set up.
            if (query.Count == 0)
            {
                return builder.ToString();
            }

            foreach (var group in query.GroupBy(q => q.Key.ToLowerInvariant(), StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                Append(builder, group.Key);
                Append(builder, new StringValues([.. group.SelectMany(q => q.Value.ToArray())]));
            }
        }
        else
        {
            foreach (var key in policy.QueryKeys)
            {
                Append(builder, key);
                Append(builder, query[key]);
            }
        }

        return builder.ToString();
    }

    /// <summary>The user id a policy that varies by user keys on: <c>NameIdentifier</c>, <c>sub</c>, then the name.</summary>
    public static string? UserId(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        var id = user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? user.FindFirst("sub")?.Value ?? user.Identity.Name;
        return string.IsNullOrEmpty(id) ? null : id;
    }

    private static void Append(StringBuilder builder, string value) =>
        builder.Append(value.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(value).Append(';');

    private static void Append(StringBuilder builder, StringValues values)
    {
        builder.Append(values.Count.ToString(CultureInfo.InvariantCulture)).Append('#');
        foreach (var value in values)
        {
            Append(builder, value ?? string.Empty);
        }
    }
}

/// <summary>
/// The keys one request uses: its entry, and the entry followed by the sets a fill adds it to. The fill keys are
/// built on first use: a hit (the common request) needs only the entry, and each set key costs a SHA-256.
/// </summary>
internal sealed class CacheRequestKeys
{
    private readonly ResponseCacheKeys? _keys;
    private readonly ResponseCachePolicy? _policy;
    private readonly List<string>? _tags;
    private readonly PathString _path;
    private readonly IQueryCollection? _query;
    private string? _resource;
    private readonly RedisKey _sequence;
    private RedisKey[]? _fillKeys;
    private RedisKey[]? _lookupKeys;

    public CacheRequestKeys(RedisKey entry, string entryName, RedisKey[] fillKeys)
    {
        Entry = entry;
        EntryName = entryName;
        _fillKeys = fillKeys;
        _sequence = fillKeys[1];
    }

    public CacheRequestKeys(RedisKey entry, RedisKey sequence, ResponseCacheKeys keys, ResponseCachePolicy policy, string? resource, PathString path, IQueryCollection query, List<string>? tags)
    {
        Entry = entry;
        EntryName = entry.ToString();
        _sequence = sequence;
        _keys = keys;
        _policy = policy;
        _resource = resource;
        _path = path;
        _query = query;
        _tags = tags;
    }

    public RedisKey Entry { get; }

    public string EntryName { get; }

    /// <summary>
    /// lookup.lua's keys: the entry and the policy's eviction sequence. Made on first use: a near-cache hit, or a request
    /// that joins another's lookup, sends none.
    /// </summary>
    public RedisKey[] LookupKeys => _lookupKeys ??= [Entry, _sequence];

    public RedisKey[] FillKeys => _fillKeys ??= _keys!.FillKeys(Entry, _policy!, _resource ??= ResponseCacheKeys.ResourceString(_policy!, _path, _query!), _tags);
}

/// <summary>
/// Composes a variant string in a pooled buffer, in <see cref="ResponseCacheKeys"/>' length-prefixed format
/// (<c>{length}:{value};</c>, lists as <c>{count}#</c> then each value), so the same request gives the same key as before.
/// </summary>
internal struct VariantWriter(int capacity) : IDisposable
{
    private char[] _buffer = ArrayPool<char>.Shared.Rent(capacity);
    private int _length;

    public readonly ReadOnlySpan<char> Written => _buffer.AsSpan(0, _length);

    public void Append(ReadOnlySpan<char> value)
    {
        WriteLength(value.Length, ':');
        Reserve(value.Length + 1);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
        _buffer[_length++] = ';';
    }

    public void AppendLower(ReadOnlySpan<char> value)
    {
        WriteLength(value.Length, ':');
        Reserve(value.Length + 1);
        value.ToLowerInvariant(_buffer.AsSpan(_length));
        _length += value.Length;
        _buffer[_length++] = ';';
    }

    /// <summary>The resource string of a path without a query (<c>{length}:{lower-cased path};</c>), appended as one value.</summary>
    public void AppendResourceOfPath(ReadOnlySpan<char> path)
    {
        Span<char> digits = stackalloc char[11];
        path.Length.TryFormat(digits, out var count, provider: CultureInfo.InvariantCulture);
        WriteLength(count + 1 + path.Length + 1, ':');
        Reserve(count + path.Length + 2);
        digits[..count].CopyTo(_buffer.AsSpan(_length));
        _length += count;
        _buffer[_length++] = ':';
        path.ToLowerInvariant(_buffer.AsSpan(_length));
        _length += path.Length;
        _buffer[_length++] = ';';
        _buffer[_length++] = ';';
    }

    public void Append(StringValues values)
    {
        WriteLength(values.Count, '#');
        foreach (var value in values)
        {
            Append(value ?? string.Empty);
        }
    }

    public void Dispose()
    {
        ArrayPool<char>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void WriteLength(int length, char separator)
    {
        Reserve(12);
        length.TryFormat(_buffer.AsSpan(_length), out var written, provider: CultureInfo.InvariantCulture);
        _length += written;
        _buffer[_length++] = separator;
    }

    private void Reserve(int more)
    {
        if (_length + more <= _buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<char>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + more));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<char>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
