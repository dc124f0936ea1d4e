using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Serializes the response headers an entry keeps: length-prefixed UTF-8 names and values, so no header value can
/// break the framing.
/// </summary>
internal static class HeaderCodec
{
    /// <summary>Headers never stored: per-connection or per-response fields, and those RedisEdge computes on every serve.</summary>
    private static readonly HashSet<string> Excluded = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.SetCookie, HeaderNames.Date, HeaderNames.Age, HeaderNames.ETag, HeaderNames.ContentLength,
        HeaderNames.TransferEncoding, HeaderNames.Connection, HeaderNames.KeepAlive, HeaderNames.Server,
        HeaderNames.Upgrade, HeaderNames.ProxyConnection, RedisResponseCachingDefaults.CacheStatusHeader,
    };

    public static byte[] Serialize(IHeaderDictionary headers)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            foreach (var (name, values) in headers)
            {
                if (Excluded.Contains(name))
                {
                    continue;
                }

                foreach (var value in values)
                {
                    writer.Write(name);
                    writer.Write(value ?? string.Empty);
                }
            }
        }

        return stream.ToArray();
    }

    /// <summary>
    /// Decodes <see cref="Serialize"/>'s format (each string a 7-bit encoded byte length, then UTF-8) straight from the
    /// reply's bytes: no stream, reader or list.
    /// </summary>
    public static KeyValuePair<string, string>[] Deserialize(ReadOnlySpan<byte> data)
    {
        var count = 0;
        for (var rest = data; !rest.IsEmpty; count++)
        {
            Skip(ref rest);
            Skip(ref rest);
        }

        var headers = new KeyValuePair<string, string>[count];
        for (var i = 0; i < headers.Length; i++)
        {
            var name = Read(ref data);
            headers[i] = new KeyValuePair<string, string>(name, Read(ref data));
        }

        return headers;
    }

    private static void Skip(ref ReadOnlySpan<byte> data) => data = data[Length(ref data)..];

    private static string Read(ref ReadOnlySpan<byte> data)
    {
        var length = Length(ref data);
        var value = Encoding.UTF8.GetString(data[..length]);
        data = data[length..];
        return value;
    }

    private static int Length(ref ReadOnlySpan<byte> data)
    {
        var length = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (data.IsEmpty || shift > 28)
            {
                throw new FormatException("The stored headers are truncated or malformed.");
            }

            var b = data[0];
            data = data[1..];
            length |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                break;
            }
        }

        if (length < 0 || length > data.Length)
        {
            throw new FormatException("The stored headers are truncated or malformed.");
        }

        return length;
    }
}
