using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The HTTP rules: what may be stored, strong ETags, conditional requests, <c>Cache-Status</c> (RFC 9211).</summary>
internal static class HttpCaching
{
    /// <summary>Why a response may not be stored, or <see langword="null"/> when it may.</summary>
    public static string? NotStorableReason(ResponseCachePolicy policy, HttpResponse response)
    {
        if (!policy.StatusCodes.Contains(response.StatusCode))
        {
            return "status";
        }

        var headers = response.Headers;
        if (headers.ContainsKey(HeaderNames.SetCookie))
        {
            return "set-cookie";
        }

        if (CacheControlHeaderValue.TryParse(headers.CacheControl.ToString(), out var cacheControl) && (cacheControl.NoStore || cacheControl.Private))
        {
            return "cache-control";
        }

        foreach (var vary in headers.Vary)
        {
            if (vary is not null && !VariesWithinKey(policy, vary))
            {
                return "vary";
            }
        }

        return null;
    }

    /// <summary>
    /// RFC 9111 §4.1: a response that varies by a request header may only be served to requests with the same value.
    /// The key holds the policy's <c>VaryByHeaderNames</c> values, so a <c>Vary</c> naming any other header (or <c>*</c>)
    /// makes the response not storable: response compression after the cache adds <c>Vary: Accept-Encoding</c>, and
    /// its compressed bytes must never reach a client that did not ask for them.
    /// </summary>
    private static bool VariesWithinKey(ResponseCachePolicy policy, string vary)
    {
        foreach (var range in vary.AsSpan().Split(','))
        {
            var name = vary.AsSpan(range).Trim();
            if (name.IsEmpty)
            {
                continue;
            }

            var known = false;
            foreach (var header in policy.Headers)
            {
                if (name.Equals(header, StringComparison.OrdinalIgnoreCase))
                {
                    known = true;
                    break;
                }
            }

            if (!known)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The origin's own <c>ETag</c>, kept as it sent it: clients send it back in <c>If-Match</c> writes, which a
    /// validator the cache made up would break.
    /// </summary>
    public static string? OriginETag(IHeaderDictionary headers)
    {
        var etag = headers.ETag;
        return etag.Count == 1 && !string.IsNullOrWhiteSpace(etag[0]) ? etag[0] : null;
    }

    /// <summary>A strong validator derived from the body bytes only, for a response whose origin sent none.</summary>
    public static string ETag(ReadOnlySpan<byte> body)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(body, digest);
        return "\"" + System.Buffers.Text.Base64Url.EncodeToString(digest[..16]) + "\"";
    }

    /// <summary>
    /// Whether a <c>200</c> with these validators answers the request's own conditional as <c>304</c>: <c>If-None-Match</c>
    /// when present, else <c>If-Modified-Since</c> against <c>Last-Modified</c> (RFC 9110 §13.2.2).
    /// </summary>
    public static bool NotModified(HttpRequest request, string etag, string? lastModified)
    {
        var headers = request.Headers;
        if (headers.IfNoneMatch.Count > 0)
        {
            return IfNoneMatchMatches(request, etag);
        }

        var since = headers.IfModifiedSince;
        return since.Count > 0 && !string.IsNullOrEmpty(lastModified)
            && HeaderUtilities.TryParseDate(since.ToString(), out var sinceDate)
            && HeaderUtilities.TryParseDate(lastModified, out var modified)
            && modified <= sinceDate;
    }

    /// <summary>Whether <c>If-None-Match</c> matches <paramref name="etag"/> (weak comparison, as RFC 9110 requires for it).</summary>
    public static bool IfNoneMatchMatches(HttpRequest request, string etag)
    {
        var header = request.Headers.IfNoneMatch;
        if (header.Count == 0 || string.IsNullOrEmpty(etag))
        {
            return false;
        }

        if (!EntityTagHeaderValue.TryParseList(header, out var tags) || !EntityTagHeaderValue.TryParse(etag, out var current))
        {
            return false;
        }

        foreach (var tag in tags)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>How many whole seconds have their <c>Age</c> and hit <c>Cache-Status</c> strings kept (about an hour).</summary>
    private const int KeptSeconds = 4096;

    // Written on every hit, and the same few thousand values over and over: made once each (a race makes one twice).
    private static readonly string?[] SecondsStrings = new string?[KeptSeconds];

    public static string Seconds(long milliseconds)
    {
        var seconds = WholeSeconds(milliseconds);
        return (ulong)seconds < KeptSeconds
            ? SecondsStrings[seconds] ??= seconds.ToString(CultureInfo.InvariantCulture)
            : seconds.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The <c>Cache-Status</c> value of a hit, formatted in one string (it is written on every hit) and kept: per detail,
    /// one string per whole second of TTL below <see cref="KeptSeconds"/>, and the last one made above it (a TTL of a
    /// day changes once a second, so concurrent hits share it).
    /// </summary>
    public static string Hit(long ttlMs, string? detail = null)
    {
        var ttl = WholeSeconds(ttlMs);
        var values = detail switch
        {
            null => PlainHits,
            "near" => NearHits,
            "stale-while-revalidate" => RevalidatingHits,
            "stale-if-error" => ErrorHits,
            _ => null,
        };
        return values is null ? FormatHit(ttl, detail) : values.Get(ttl);
    }

    private static string FormatHit(long ttl, string? detail) => detail is null
        ? string.Create(CultureInfo.InvariantCulture, $"{RedisResponseCachingDefaults.CacheName}; hit; ttl={ttl}")
        : string.Create(CultureInfo.InvariantCulture, $"{RedisResponseCachingDefaults.CacheName}; hit; ttl={ttl}; detail={detail}");

    private static readonly HitValues PlainHits = new(null);
    private static readonly HitValues NearHits = new("near");
    private static readonly HitValues RevalidatingHits = new("stale-while-revalidate");
    private static readonly HitValues ErrorHits = new("stale-if-error");

    /// <summary>The kept hit values of one detail.</summary>
    private sealed class HitValues(string? detail)
    {
        private readonly string?[] _kept = new string?[KeptSeconds];
        private Formatted? _last;

        public string Get(long ttl)
        {
            if ((ulong)ttl < KeptSeconds)
            {
                return _kept[ttl] ??= FormatHit(ttl, detail);
            }

            if (Volatile.Read(ref _last) is { } last && last.Ttl == ttl)
            {
                return last.Value;
            }

            var made = FormatHit(ttl, detail);
            Volatile.Write(ref _last, new Formatted(ttl, made));
            return made;
        }

        private sealed record Formatted(long Ttl, string Value);
    }

    private static string Token(ForwardReason reason) => reason switch
    {
        ForwardReason.Bypass => "bypass",
        ForwardReason.Miss => "miss",
        ForwardReason.UriMiss => "uri-miss",
        ForwardReason.Stale => "stale",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    /// <summary>Whole seconds, rounded down for a positive age or lifetime and away from zero for a negative one.</summary>
    private static long WholeSeconds(long milliseconds) =>
        milliseconds >= 0 ? milliseconds / 1000 : -((-milliseconds + 999) / 1000);

    public static string Forward(ForwardReason reason, int? status = null, bool stored = false, bool collapsed = false, string? detail = null) =>
        $"{RedisResponseCachingDefaults.CacheName}; fwd={Token(reason)}"
        + (status is { } s ? "; fwd-status=" + s.ToString(CultureInfo.InvariantCulture) : string.Empty)
        + (stored ? "; stored" : string.Empty)
        + (collapsed ? "; collapsed" : string.Empty)
        + (detail is null ? string.Empty : "; detail=" + detail);
}
