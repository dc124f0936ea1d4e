using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// SHA-256 over what makes two requests "the same request": method, path, query, the selected headers and the body
/// bytes. The body is buffered (up to the policy's limit) so the endpoint reads it again from the start.
/// </summary>
internal static class RequestFingerprint
{
    /// <summary>The fingerprint, or <see langword="null"/> when the body is over <paramref name="maxBodySize"/>.</summary>
    public static async Task<string?> ComputeAsync(HttpContext context, string[] headers, long maxBodySize, CancellationToken cancellationToken)
    {
        var request = context.Request;
        if (request.ContentLength > maxBodySize)
        {
            return null;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var head = new StringBuilder()
            .Append(request.Method).Append('\n')
            .Append(request.PathBase.Value).Append(request.Path.Value).Append('\n')
            .Append(request.QueryString.Value).Append('\n');
        foreach (var name in headers)
        {
            head.Append(name.ToUpperInvariant()).Append(':').AppendJoin(',', request.Headers[name].ToArray()).Append('\n');
        }

        head.Append('\n');
        hash.AppendData(Encoding.UTF8.GetBytes(head.ToString()));

        // Rewindable since the front of the pipeline for keyed forms (IdempotencyRequestBuffering): whatever read it
        // before this middleware, the hash starts at the first byte the client sent.
        request.EnableBuffering();
        request.Body.Position = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > maxBodySize)
                {
                    return null;
                }

                hash.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        request.Body.Position = 0;
        return Convert.ToBase64String(hash.GetHashAndReset());
    }
}
