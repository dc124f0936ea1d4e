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

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return Network(address, address.AddressFamily == AddressFamily.InterNetwork ? ipv4PrefixLength : ipv6PrefixLength);
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
        var bytes = address.GetAddressBytes();
        if (prefix >= bytes.Length * 8)
        {
            // A new address drops any IPv6 scope id ("%eth0"), which is not part of who the client is.
            return new IPAddress(bytes).ToString();
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes) + "/" + prefix.ToString(CultureInfo.InvariantCulture);
    }
}
