using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// The request headers a filler hides from the origin: with them the origin would answer this one client's 304 or
/// 206, which is not storable and would turn the key into a pass for everyone. The origin answers the full 200, the
/// cache stores it, and the client still gets its own conditional answer from the cache (<c>Range</c> is ignored:
/// RFC 9110 lets a server answer a range request with the whole representation).
/// </summary>
internal readonly struct ConditionalRequestHeaders
{
    private static readonly string[] Names = [HeaderNames.IfNoneMatch, HeaderNames.IfModifiedSince, HeaderNames.Range, HeaderNames.IfRange];

    private readonly StringValues[]? _values;

    private ConditionalRequestHeaders(StringValues[]? values) => _values = values;

    /// <summary>Removes the headers from <paramref name="headers"/>; <see cref="Restore"/> puts them back.</summary>
    public static ConditionalRequestHeaders Strip(IHeaderDictionary headers)
    {
        StringValues[]? values = null;
        for (var i = 0; i < Names.Length; i++)
        {
            if (headers.Remove(Names[i], out var value))
            {
                (values ??= new StringValues[Names.Length])[i] = value;
            }
        }

        return new ConditionalRequestHeaders(values);
    }

    /// <summary>Puts the stripped headers back; calling it again changes nothing.</summary>
    public void Restore(IHeaderDictionary headers)
    {
        if (_values is null)
        {
            return;
        }

        for (var i = 0; i < Names.Length; i++)
        {
            if (!StringValues.IsNullOrEmpty(_values[i]))
            {
                headers[Names[i]] = _values[i];
            }
        }
    }
}
