using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The feature's scripts: lookup (with the fill lease), renew, fill, abandon and the eviction steps.</summary>
internal sealed class ResponseCacheStore
{
    /// <summary>The stored-entry format this version reads and writes (field <c>v</c>); an entry of another is a miss.</summary>
    public const string FormatVersion = "1";

    /// <summary>The most entries one eviction step deletes (and publishes in one message).</summary>
    public const int EvictionBatch = 128;

    private static readonly RedisScript LookupScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "lookup.lua");
    private static readonly RedisScript RenewScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "renew.lua");
    private static readonly RedisScript FillScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "fill.lua");
    private static readonly RedisScript AbandonScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "abandon.lua");
    private static readonly RedisScript EvictScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "evict_tag.lua");

    private static readonly long EvictionFenceMs = (long)RedisResponseCachingDefaults.EvictionFence.TotalMilliseconds;

    private readonly RedisScriptRunner _runner;
    private readonly ResponseCacheKeys _keys;
    private readonly ILogger _logger;
    private const int DecodedHeadersLimit = 1024;

    private readonly ConcurrentDictionary<byte[], KeyValuePair<string, string>[]> _headers = new(BytesComparer.Instance);
    private readonly ConcurrentDictionary<byte[], string> _etags = new(BytesComparer.Instance);
    private int _badEntries;
    private int _lookupErrors;
    private int _fillErrors;

    public ResponseCacheStore(
        RedisEdgeConnection connection,
        ResponseCacheKeys keys,
        ResponseCachingMetrics metrics,
        IOptions<RedisResponseCachingOptions> options,
        ILogger<ResponseCacheStore> logger,
        TimeProvider timeProvider)
    {
        _keys = keys;
        _logger = logger;
        _runner = new RedisScriptRunner(connection, metrics.Telemetry, options.Value.Failure, logger, timeProvider);
    }

    internal RedisScriptRunner Runner => _runner;

    /// <summary>
    /// One round trip: the entry (if usable) and whether this request now holds the fill lease. A stored entry that
    /// cannot be read (malformed, or written by something else) is logged once per state change and looked up again as
    /// a miss, so this request may take the lease and its fill replaces it. Unless <paramref name="forwards"/> (the
    /// request runs the origin when it gets no lease), an entry only good for stale-if-error is returned only with the
    /// lease: a request that will wait for another's fill is not sent a body it cannot use.
    /// </summary>
    public async Task<LookupResult> LookupAsync(RedisKey entry, string owner, long leaseMs, bool forwards, CancellationToken cancellationToken)
    {
        var keys = new[] { entry, ResponseCacheKeys.SequenceOf(entry) };
        var reply = await SendLookupAsync(keys, owner, leaseMs, forwards, cancellationToken).ConfigureAwait(false);
        return ReadLookup(reply, keys[0]) ?? await LookupAsMissAsync(keys, owner, leaseMs, forwards, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The first half of <see cref="LookupAsync(RedisKey, string, long, bool, CancellationToken)"/> for a caller that
    /// awaits the call itself (the middleware, leading a <see cref="LookupCoalescer"/> flight), so a hit costs one state machine less:
    /// <paramref name="keys"/> are the entry and the policy's eviction sequence (<see cref="CacheRequestKeys.LookupKeys"/>).
    /// </summary>
    public Task<RedisResult> SendLookupAsync(RedisKey[] keys, string owner, long leaseMs, bool forwards, CancellationToken cancellationToken) =>
        _runner.EvaluateAsync(LookupScript, keys, [owner, leaseMs, FormatVersion, 0, forwards ? 1 : 0], cancellationToken);

    /// <summary>
    /// The answer to <see cref="SendLookupAsync"/>, or <see langword="null"/> when the stored entry cannot be read
    /// (logged once per state change): the caller then looks up again with <see cref="LookupAsMissAsync"/>.
    /// </summary>
    public LookupResult? ReadLookup(RedisResult reply, RedisKey entry)
    {
        if (Volatile.Read(ref _lookupErrors) != 0 && Interlocked.Exchange(ref _lookupErrors, 0) != 0)
        {
            Log.LookupRecovered(_logger);
        }

        if (TryRead((RedisResult[])reply!, out var lookup, out var error))
        {
            if (lookup.Entry is not null && Volatile.Read(ref _badEntries) != 0 && Interlocked.Exchange(ref _badEntries, 0) != 0)
            {
                Log.BadEntriesCleared(_logger);
            }

            return lookup;
        }

        if (Interlocked.Exchange(ref _badEntries, 1) == 0)
        {
            Log.BadEntry(_logger, entry.ToString(), error);
        }

        return null;
    }

    /// <summary>The lookup again, with the stored entry ignored (it could not be read): a miss whose fill replaces it.</summary>
    public async Task<LookupResult> LookupAsMissAsync(RedisKey[] keys, string owner, long leaseMs, bool forwards, CancellationToken cancellationToken)
    {
        var result = await _runner.EvaluateAsync(LookupScript, keys, [owner, leaseMs, FormatVersion, 1, forwards ? 1 : 0], cancellationToken).ConfigureAwait(false);
        return TryRead((RedisResult[])result!, out var lookup, out _) ? lookup : new LookupResult(LookupState.Pass, false, lookup.Now, null);
    }

    /// <summary>The lookup of a request that waits for another's fill when it gets no lease.</summary>
    public Task<LookupResult> LookupAsync(RedisKey entry, string owner, long leaseMs, CancellationToken cancellationToken) =>
        LookupAsync(entry, owner, leaseMs, forwards: false, cancellationToken);

    /// <summary>
    /// A lookup failed with an error that is not an outage (a script error, an unexpected reply): the request is
    /// forwarded uncached, and the failure is logged once until a lookup succeeds again.
    /// </summary>
    public void LookupFailed(string policy, Exception exception)
    {
        if (Interlocked.Exchange(ref _lookupErrors, 1) == 0)
        {
            Log.LookupFailed(_logger, policy, exception);
        }
    }

    private bool TryRead(RedisResult[] reply, out LookupResult lookup, out Exception? error)
    {
        // meta: "state filler now" and, with the entry, " status created fresh stale-while-revalidate stale-if-error etag".
        var meta = ((ReadOnlyMemory<byte>)(RedisValue)reply[0]).Span;
        var state = (LookupState)NextNumber(ref meta);
        var filler = NextNumber(ref meta) == 1;
        var now = NextNumber(ref meta);
        error = null;
        CachedEntry? cached = null;
        if (!meta.IsEmpty)
        {
            try
            {
                var status = NextNumber(ref meta);
                cached = new CachedEntry
                {
                    Status = status is >= 100 and <= 999 ? (int)status : throw new FormatException($"The stored status '{status}' is not an HTTP status."),
                    Created = NextNumber(ref meta),
                    FreshUntil = NextNumber(ref meta),
                    StaleWhileRevalidateUntil = NextNumber(ref meta),
                    StaleIfErrorUntil = NextNumber(ref meta),
                    ETag = ETag(meta),
                    Headers = Headers((RedisValue)reply[1]),
                    Body = reply[2].IsNull ? throw new FormatException("The stored entry has no body field.") : (byte[])reply[2]!,
                };
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or EndOfStreamException or IOException or InvalidCastException or ArgumentException or IndexOutOfRangeException)
            {
                error = ex;
                lookup = new LookupResult(state, filler, now, null);
                return false;
            }
        }
        else if (state is LookupState.Fresh or LookupState.StaleWhileRevalidate or LookupState.FailSafe)
        {
            // These states are served from the entry, so their reply carries its fields.
            error = new FormatException("The lookup reply of a servable entry carries no entry fields.");
            lookup = new LookupResult(state, filler, now, null);
            return false;
        }

        lookup = new LookupResult(state, filler, now, cached);
        return true;
    }

    /// <summary>
    /// The next space-separated decimal of lookup.lua's meta string, and <paramref name="meta"/> moved past it and its
    /// separator. Digits only: a stored field that is not what fill.lua wrote fails here, and the entry is malformed.
    /// </summary>
    private static long NextNumber(ref ReadOnlySpan<byte> meta)
    {
        var end = meta.IndexOf((byte)' ');
        var field = end < 0 ? meta : meta[..end];
        if (field.IsEmpty || !Utf8Parser.TryParse(field, out long value, out var consumed) || consumed != field.Length)
        {
            throw new FormatException($"The stored entry has a field that is not a number ('{Encoding.UTF8.GetString(field)}').");
        }

        meta = end < 0 ? default : meta[(end + 1)..];
        return value;
    }

    /// <summary>The stored ETag (the rest of the meta string), made a string once per distinct value, as the headers are.</summary>
    private string ETag(ReadOnlySpan<byte> stored)
    {
        if (stored.IsEmpty)
        {
            return string.Empty;
        }

        var lookup = _etags.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(stored, out var etag))
        {
            return etag;
        }

        etag = Encoding.UTF8.GetString(stored);
        if (_etags.Count >= DecodedHeadersLimit)
        {
            _etags.Clear();
        }

        lookup.TryAdd(stored, etag);
        return etag;
    }

    /// <summary>
    /// The stored headers, decoded once per distinct serialized form: the entries of a hot key (and most entries of one
    /// endpoint) carry the same bytes, so a hit looks them up without decoding strings or allocating a list.
    /// </summary>
    private KeyValuePair<string, string>[] Headers(RedisValue stored)
    {
        var bytes = ((ReadOnlyMemory<byte>)stored).Span;
        var lookup = _headers.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(bytes, out var headers))
        {
            return headers;
        }

        headers = HeaderCodec.Deserialize(bytes);
        if (_headers.Count >= DecodedHeadersLimit)
        {
            _headers.Clear();
        }

        lookup.TryAdd(bytes, headers);
        return headers;
    }

    /// <summary>Extends <paramref name="owner"/>'s lease by <paramref name="leaseMs"/> from now; returns whether it still held it.</summary>
    public async Task<bool> RenewAsync(RedisKey entry, string owner, long leaseMs)
    {
        var result = await _runner.EvaluateAsync(RenewScript, [entry], [owner, leaseMs], CancellationToken.None).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>
    /// Stores a response if <paramref name="owner"/> still holds the lease and no eviction fenced it, and keeps the
    /// policy within <c>MaxEntries</c> and <c>MaxBytes</c> in the same call (the bound's index shares the policy's slot).
    /// </summary>
    public async Task<FillOutcome> FillAsync(CacheRequestKeys keys, string owner, ResponseCachePolicy policy, int status, byte[] headers, ReadOnlyMemory<byte> body, string etag)
    {
        var args = new RedisValue[]
        {
            owner,
            status,
            headers,
            body,
            etag,
            policy.TimeToLiveMs,
            policy.StaleWhileRevalidateMs,
            policy.StaleIfErrorMs,
            _keys.Channel.ToString(),
            FormatVersion,
            EvictionFenceMs,
            policy.MaxEntries,
            policy.MaxBytes,
        };

        // A settlement: the origin already ran, so storing it is worth finishing whatever the breaker says, and it is
        // not cancelled with the request.
        RedisResult result;
        try
        {
            result = await _runner.SettleAsync(FillScript, keys.FillKeys, args).ConfigureAwait(false);
        }
        catch (RedisServerException ex)
        {
            // Redis ran the script and it failed (an outage is thrown as RedisEdgeUnavailableException): a fault that
            // repeats on every fill until someone fixes it, so it is a warning, logged once until a fill succeeds.
            if (Interlocked.Exchange(ref _fillErrors, 1) == 0)
            {
                Log.FillScriptFailed(_logger, policy.Name, ex);
            }

            throw;
        }

        if (Volatile.Read(ref _fillErrors) != 0 && Interlocked.Exchange(ref _fillErrors, 0) != 0)
        {
            Log.FillRecovered(_logger);
        }

        return (FillOutcome)(long)((RedisResult[])result!)[0];
    }

    /// <summary>
    /// Releases the lease without storing; <paramref name="passMs"/> &gt; 0 lets requests bypass leasing that long;
    /// <paramref name="drop"/> removes a stored (stale) response too.
    /// </summary>
    public async Task AbandonAsync(RedisKey entry, string owner, long passMs, bool drop = false)
    {
        await _runner.SettleAsync(AbandonScript, [entry], [owner, passMs, _keys.Channel.ToString(), drop ? 1 : 0]).ConfigureAwait(false);
    }

    /// <summary>One eviction step of a tag or resource set (see evict_tag.lua); the first records the eviction.</summary>
    public async Task<EvictionStep> EvictStepAsync(ResponseCachePolicy policy, RedisKey set, bool first, CancellationToken cancellationToken)
    {
        var result = await _runner.EvaluateAsync(
            EvictScript,
            _keys.EvictKeys(policy, set),
            [_keys.Channel.ToString(), EvictionBatch, EvictionFenceMs, first ? 1 : 0],
            cancellationToken).ConfigureAwait(false);
        var reply = (RedisResult[])result!;
        var deleted = new string[reply.Length - 2];
        for (var i = 0; i < deleted.Length; i++)
        {
            deleted[i] = (string)reply[i + 2]!;
        }

        return new EvictionStep((long)reply[0], (long)reply[1], deleted);
    }
}

/// <summary>What lookup.lua found.</summary>
internal enum LookupState
{
    Miss = 0,
    Fresh = 1,
    StaleWhileRevalidate = 2,
    StaleIfErrorOnly = 3,
    Pass = 4,
    FailSafe = 5,
}

/// <summary>What fill.lua did.</summary>
internal enum FillOutcome
{
    LeaseLost = 0,
    Stored = 1,
    Fenced = 2,
}

/// <summary>
/// The answer of one lookup: state, whether this request holds the fill lease, the server clock, the entry. A struct: it
/// travels inside the lookup's task, not as an object of its own.
/// </summary>
internal readonly record struct LookupResult(LookupState State, bool Filler, long Now, CachedEntry? Entry);

/// <summary>One eviction step: entries deleted, members left in the set, and the deleted entry keys.</summary>
internal sealed record EvictionStep(long Deleted, long Left, string[] Keys);

/// <summary>Byte-content equality for the decoded-header cache, with span lookups so a hit copies nothing.</summary>
internal sealed class BytesComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly BytesComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var hash = default(HashCode);
        hash.AddBytes(alternate);
        return hash.ToHashCode();
    }

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
