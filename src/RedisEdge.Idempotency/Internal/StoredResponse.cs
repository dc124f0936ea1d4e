using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

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
                response.Headers.Append(name, new StringValues(line[(colon + 1)..]));
            }
        }

        response.Headers[RedisIdempotencyDefaults.ReplayedHeader] = "true";
        if (StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            // These carry no body and no Content-Length (Kestrel refuses a body on them).
            return;
        }

        response.ContentLength = Body.Length;
        if (Body.Length > 0)
        {
            await response.Body.WriteAsync(Body, cancellationToken).ConfigureAwait(false);
        }
    }
}
