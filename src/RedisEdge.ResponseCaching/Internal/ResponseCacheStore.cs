using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The feature's four scripts: lookup (with the fill lease), fill, abandon and evict.</summary>
internal sealed class ResponseCacheStore
{
    private static readonly RedisScript LookupScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "lookup.lua");
    private static readonly RedisScript FillScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "fill.lua");
    private static readonly RedisScript AbandonScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "abandon.lua");
    private static readonly RedisScript EvictScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "evict_tag.lua");
    private static readonly RedisScript TrimScript = RedisScript.FromResource(typeof(ResponseCacheStore).Assembly, "trim.lua");

    private readonly RedisScriptRunner _runner;
    private readonly ResponseCacheKeys _keys;
    private readonly ILogger _logger;

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

    /// <summary>One round trip: the entry (if usable) and whether this request now holds the fill lease.</summary>
    public async Task<LookupResult> LookupAsync(RedisKey entry, string owner, long leaseMs, CancellationToken cancellationToken)
    {
        var result = await _runner.EvaluateAsync(LookupScript, [entry], [owner, leaseMs], cancellationToken).ConfigureAwait(false);
        var reply = (RedisResult[])result!;
        var state = (LookupState)(long)reply[0];
        var filler = (long)reply[1] == 1;
        var now = (long)reply[2];
        CachedEntry? cached = null;
        if (reply.Length >= 11 && !reply[3].IsNull)
        {
            cached = new CachedEntry
            {
                Status = int.Parse((string)reply[3]!, CultureInfo.InvariantCulture),
                Headers = HeaderCodec.Deserialize((byte[])reply[4]! ?? []),
                Body = (byte[])reply[5]! ?? [],
                ETag = (string)reply[6]! ?? string.Empty,
                Created = (long)reply[7],
                FreshUntil = (long)reply[8],
                StaleWhileRevalidateUntil = (long)reply[9],
                StaleIfErrorUntil = (long)reply[10],
            };
        }

        return new LookupResult(state, filler, now, cached);
    }

    /// <summary>Stores a response if <paramref name="owner"/> still holds the lease; returns whether it was stored.</summary>
    public async Task<bool> FillAsync(CacheRequestKeys keys, string owner, ResponseCachePolicy policy, int status, byte[] headers, ReadOnlyMemory<byte> body, string etag)
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
        };

        // Not cancelled with the request: once the origin answered, storing it is worth finishing.
        var result = await _runner.EvaluateAsync(FillScript, keys.FillKeys, args, CancellationToken.None).ConfigureAwait(false);
        var stored = (long)((RedisResult[])result!)[0] == 1;
        if (stored)
        {
            await TrimAsync(keys, policy, headers.Length + body.Length).ConfigureAwait(false);
        }

        return stored;
    }

    /// <summary>
    /// Keeps the policy within <c>MaxEntries</c> and <c>MaxBytes</c> after a fill (a second script, so fill.lua stays
    /// as it is). A failure is logged and dropped: the entry was stored, and every entry expires on its own.
    /// </summary>
    private async Task TrimAsync(CacheRequestKeys keys, ResponseCachePolicy policy, long bytes)
    {
        var fillKeys = keys.FillKeys;
        var entry = (string)fillKeys[0]!;
        var args = new RedisValue[6 + fillKeys.Length - 1];
        args[0] = AfterHashTag(entry);
        args[1] = bytes;
        args[2] = policy.TimeToLiveMs + Math.Max(policy.StaleWhileRevalidateMs, policy.StaleIfErrorMs);
        args[3] = policy.MaxEntries;
        args[4] = policy.MaxBytes;
        args[5] = _keys.Channel.ToString();
        for (var i = 1; i < fillKeys.Length; i++)
        {
            args[5 + i] = AfterHashTag((string)fillKeys[i]!);
        }

        var (index, meta) = _keys.Bound(policy);
        try
        {
            await _runner.EvaluateAsync(TrimScript, [index, meta], args, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            Log.TrimFailed(_logger, policy.Name, ex);
        }
    }

    private static string AfterHashTag(string key) => key[(key.IndexOf('}', StringComparison.Ordinal) + 1)..];

    /// <summary>Releases the lease without storing; <paramref name="passMs"/> &gt; 0 lets requests bypass leasing that long.</summary>
    public async Task AbandonAsync(RedisKey entry, string owner, long passMs)
    {
        await _runner.EvaluateAsync(AbandonScript, [entry], [owner, passMs, _keys.Channel.ToString()], CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Deletes every entry in a tag or resource set; returns how many.</summary>
    public async Task<long> EvictSetAsync(RedisKey set, CancellationToken cancellationToken)
    {
        var result = await _runner.EvaluateAsync(EvictScript, [set], [_keys.Channel.ToString()], cancellationToken).ConfigureAwait(false);
        return (long)result;
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
}

/// <summary>The answer of one lookup: state, whether this request holds the fill lease, the server clock, the entry.</summary>
internal sealed record LookupResult(LookupState State, bool Filler, long Now, CachedEntry? Entry);
