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

    public static List<KeyValuePair<string, string>> Deserialize(byte[] data)
    {
        var headers = new List<KeyValuePair<string, string>>();
        using var reader = new BinaryReader(new MemoryStream(data), Encoding.UTF8);
        while (reader.BaseStream.Position < data.Length)
        {
            var name = reader.ReadString();
            headers.Add(new KeyValuePair<string, string>(name, reader.ReadString()));
        }

        return headers;
    }
}
