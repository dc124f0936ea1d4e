using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The partition value of a client address: the address itself when the prefix covers every bit (IPv4 /32, IPv6
/// /128), otherwise its network in CIDR form (<c>2001:db8:1:2::/64</c>), so one client rotating addresses inside its
/// network stays in one partition.
/// </summary>
internal static class IpPartition
{
    public static string? Value(IPAddress? address, int ipv4PrefixLength, int ipv6PrefixLength)
    {
        if (address is null)
        {
            return null;
        }

        var mapped = address.IsIPv4MappedToIPv6;
        var v4 = mapped || address.AddressFamily == AddressFamily.InterNetwork;
        var prefix = v4 ? ipv4PrefixLength : ipv6PrefixLength;
        if (!mapped && prefix >= (v4 ? 32 : 128) && (v4 || address.ScopeId == 0))
        {
            // The address is the partition: its own text, which IPAddress formats once and keeps, so a keep-alive
            // connection (Kestrel keeps one RemoteIpAddress per connection) pays nothing per request.
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);

        // A v4-mapped v6 address ("::ffff:203.0.113.7", from a dual-mode socket) is its IPv4 address.
        return Network(mapped ? bytes[12..16] : bytes[..written], prefix);
    }

    /// <summary>
    /// Turns a configured partition value (an address, or a network in CIDR form) into the value requests from that
    /// network get, or explains why it can never match one.
    /// </summary>
    public static bool TryNormalize(string entry, int ipv4PrefixLength, int ipv6PrefixLength, out string value, out string error)
    {
        value = string.Empty;
        error = string.Empty;
        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? entry : entry[..slash];
        if (!IPAddress.TryParse(addressText, out var address) || addressText.Contains('%', StringComparison.Ordinal))
        {
            error = $"'{entry}' is not an IP address or a network in CIDR form";
            return false;
        }

        if (address.IsIPv4MappedToIPv6 && slash < 0)
        {
            address = address.MapToIPv4();
        }

        var v4 = address.AddressFamily == AddressFamily.InterNetwork;
        var prefix = v4 ? ipv4PrefixLength : ipv6PrefixLength;
        if (slash >= 0)
        {
            if (!int.TryParse(entry.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > (v4 ? 32 : 128))
            {
                error = $"'{entry}' has an invalid prefix length";
                return false;
            }

            if (length != prefix)
            {
                error = $"'{entry}' is a /{length} network, but partitions are /{prefix} ({(v4 ? "IPv4PrefixLength" : "IPv6PrefixLength")}), so it can never match a client";
                return false;
            }
        }

        value = Network(address, prefix);
        return true;
    }

    private static string Network(IPAddress address, int prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return Network(bytes[..written], prefix);
    }

    /// <summary>The address (all bits kept) or its network in CIDR form, formatted as <see cref="IPAddress"/> does.</summary>
    private static string Network(Span<byte> bytes, int prefix)
    {
        var full = prefix >= bytes.Length * 8;
        if (!full)
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                var keep = Math.Clamp(prefix - (i * 8), 0, 8);
                bytes[i] &= (byte)(0xFF << (8 - keep));
            }
        }

        // IPv4 is formatted here in one string; IPv6 text (zero compression) is left to IPAddress. A new address
        // drops any IPv6 scope id ("%eth0"), which is not part of who the client is.
        Span<char> text = stackalloc char[64];
        int length;
        if (bytes.Length == 4)
        {
            length = 0;
            for (var i = 0; i < 4; i++)
            {
                if (i > 0)
                {
                    text[length++] = '.';
                }

                bytes[i].TryFormat(text[length..], out var digits, provider: CultureInfo.InvariantCulture);
                length += digits;
            }
        }
        else if (!new IPAddress(bytes).TryFormat(text, out length))
        {
            return full ? new IPAddress(bytes).ToString() : new IPAddress(bytes) + "/" + prefix.ToString(CultureInfo.InvariantCulture);
        }

        if (!full)
        {
            text[length++] = '/';
            prefix.TryFormat(text[length..], out var digits, provider: CultureInfo.InvariantCulture);
            length += digits;
        }

        return new string(text[..length]);
    }
}
