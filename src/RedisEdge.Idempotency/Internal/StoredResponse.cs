using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace RedisEdge.Idempotency.Internal;

/// <summary>A stored response: status, allow-listed headers (one <c>name:value</c> per line) and the body bytes.</summary>
internal sealed record StoredResponse(int StatusCode, string Headers, byte[] Body)
{
    /// <summary>Never replayed, whatever the allow list says (validated at start-up too).</summary>
    public static readonly HashSet<string> Forbidden = new(StringComparer.OrdinalIgnoreCase)
    {
        "Set-Cookie", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authorization", "Content-Length", RedisIdempotencyDefaults.ReplayedHeader,
    };

    public static string EncodeHeaders(IHeaderDictionary headers, HashSet<string> allowed)
    {
        var builder = new StringBuilder();
        foreach (var (name, values) in headers)
        {
            if (!allowed.Contains(name) || Forbidden.Contains(name))
            {
                continue;
            }

            foreach (var value in values)
            {
                if (value is null || value.Contains('\n', StringComparison.Ordinal) || value.Contains('\r', StringComparison.Ordinal))
                {
                    continue;
                }

                builder.Append(name).Append(':').Append(value).Append('\n');
            }
        }

        return builder.ToString();
    }

    /// <summary>Writes the stored response, marked with <c>Idempotent-Replayed: true</c>.</summary>
    public async Task WriteAsync(HttpResponse response, HashSet<string> allowed, CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCode;

        // Stored headers replace what earlier middleware set: the replay is the original response, not a blend of
        // it and this request's headers.
        var headers = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in Headers.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            // The allow list is applied again: a header removed from it since storing is no longer replayed.
            var name = line[..colon];
            if (allowed.Contains(name) && !Forbidden.Contains(name))
            {
                if (!headers.TryGetValue(name, out var values))
                {
                    headers[name] = values = [];
                }

                values.Add(line[(colon + 1)..]);
            }
        }

        var body = Body;
        if (headers.TryGetValue(HeaderNames.ContentEncoding, out var encoding) &&
            !Accepts(response.HttpContext.Request.Headers.AcceptEncoding, encoding) &&
            await DecodeAsync(encoding, body, cancellationToken).ConfigureAwait(false) is { } decoded)
        {
            // The original went to a client that accepted this coding; this retry does not, so it gets the same
            // representation decoded rather than bytes it cannot read.
            headers.Remove(HeaderNames.ContentEncoding);
            body = decoded;
        }

        foreach (var (name, values) in headers)
        {
            response.Headers[name] = new StringValues([.. values]);
        }

        response.Headers[RedisIdempotencyDefaults.ReplayedHeader] = "true";
        if (StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            // These carry no body and no Content-Length (Kestrel refuses a body on them).
            return;
        }

        response.ContentLength = body.Length;
        if (body.Length > 0)
        {
            await response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether <paramref name="acceptEncoding"/> accepts the stored single coding (a q-value above zero, by name or
    /// <c>*</c>). A request without the header is treated as accepting none, as response compression treats it: a
    /// client that did not ask for a coding (curl without <c>--compressed</c>) cannot be counted on to decode one.
    /// </summary>
    private static bool Accepts(StringValues acceptEncoding, List<string> encoding)
    {
        if (encoding.Count != 1 || StringValues.IsNullOrEmpty(acceptEncoding))
        {
            return encoding.Count != 1;
        }

        if (!StringWithQualityHeaderValue.TryParseList(acceptEncoding, out var accepted))
        {
            return true;
        }

        var coding = encoding[0].Trim();
        double? named = null, any = null;
        foreach (var value in accepted)
        {
            var quality = value.Quality ?? 1;
            if (value.Value.Equals(coding, StringComparison.OrdinalIgnoreCase))
            {
                named = quality;
            }
            else if (value.Value.Equals("*", StringComparison.Ordinal))
            {
                any = quality;
            }
        }

        return (named ?? any ?? 0) > 0;
    }

    /// <summary>The body decoded from the stored single coding, or <see langword="null"/> for a coding this cannot
    /// decode (then the stored bytes and header are replayed as they are).</summary>
    private static async Task<byte[]?> DecodeAsync(List<string> encoding, byte[] body, CancellationToken cancellationToken)
    {
        if (encoding.Count != 1)
        {
            return null;
        }

        using var source = new MemoryStream(body, writable: false);
        await using Stream? decoder = encoding[0].Trim().ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => new GZipStream(source, CompressionMode.Decompress),
            "br" => new BrotliStream(source, CompressionMode.Decompress),
            "deflate" => new ZLibStream(source, CompressionMode.Decompress),
            _ => null,
        };
        if (decoder is null)
        {
            return null;
        }

        using var decoded = new MemoryStream();
        await decoder.CopyToAsync(decoded, cancellationToken).ConfigureAwait(false);
        return decoded.ToArray();
    }
}
