using System.Globalization;
using System.Security.Cryptography;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Fill-lease owner tokens: unique across the fleet (64 random bits per process, then a per-process counter), made
/// without a GUID per request, since every GET lookup sends one in case it is handed the lease.
/// </summary>
internal static class FillOwner
{
    private static readonly string Prefix = Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
    private static long _last;

    public static string Next()
    {
        var n = Interlocked.Increment(ref _last);
        return string.Create(Prefix.Length + 1 + 16, n, static (chars, value) =>
        {
            Prefix.CopyTo(chars);
            chars[Prefix.Length] = ':';
            value.TryFormat(chars[(Prefix.Length + 1)..], out _, "x16", CultureInfo.InvariantCulture);
        });
    }
}
