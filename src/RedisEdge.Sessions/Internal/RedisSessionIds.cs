using System.Buffers.Text;
using System.Security.Cryptography;

namespace RedisEdge.Sessions.Internal;

/// <summary>Session ids: 256 bits from the OS CSPRNG, base64url (43 characters).</summary>
internal static class RedisSessionIds
{
    public const int ByteLength = 32;
    public const int Length = 43;

    public static string Create()
    {
        Span<byte> bytes = stackalloc byte[ByteLength];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>
    /// Whether <paramref name="value"/> has the shape of an id this library issues. Anything else is discarded
    /// before it can cost a Redis call; a well-formed id is still only adopted if Redis knows its hash.
    /// </summary>
    public static bool IsWellFormed(string? value) => value is not null && IsWellFormed(value.AsSpan());

    /// <inheritdoc cref="IsWellFormed(string?)"/>
    public static bool IsWellFormed(ReadOnlySpan<char> value)
    {
        if (value.Length != Length)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
            {
                return false;
            }
        }

        return true;
    }
}
