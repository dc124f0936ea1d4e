using System.Globalization;
using System.Net;
using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// The partition values and hash tags the middleware computes without intermediate strings (and remembers per policy)
/// are exactly the ones the straightforward formulas give: the keys every instance of the fleet uses depend on them.
/// </summary>
public sealed class PartitionTagTests
{
    public static TheoryData<string, int, int> Addresses => new()
    {
        { "203.0.113.7", 32, 64 },
        { "203.0.113.7", 24, 64 },
        { "203.0.113.7", 0, 64 },
        { "203.0.113.255", 17, 64 },
        { "::ffff:203.0.113.7", 32, 64 },
        { "::ffff:203.0.113.7", 24, 64 },
        { "2001:db8:1:2:3:4:5:6", 32, 128 },
        { "2001:db8:1:2:3:4:5:6", 32, 64 },
        { "2001:db8:1:2:3:4:5:6", 32, 47 },
        { "2001:db8::1", 32, 128 },
        { "fe80::1%2", 32, 128 },
        { "fe80::1%2", 32, 64 },
        { "::1", 32, 128 },
        { "::", 32, 0 },
        { "127.0.0.1", 32, 64 },
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public void IpPartitionValue_IsTheAddressOrItsNetwork_AsIPAddressFormatsIt(string address, int ipv4Prefix, int ipv6Prefix)
    {
        var ip = IPAddress.Parse(address);
        Assert.Equal(Expected(ip, ipv4Prefix, ipv6Prefix), IpPartition.Value(ip, ipv4Prefix, ipv6Prefix));

        // Asked again on the same instance (a keep-alive connection), the answer is the same.
        Assert.Equal(Expected(ip, ipv4Prefix, ipv6Prefix), IpPartition.Value(ip, ipv4Prefix, ipv6Prefix));
    }

    [Fact]
    public void PartitionTag_IsTheHashOfKindNameAndValue_FirstTimeRememberedAndForLongValues()
    {
        var tags = new PartitionTags();
        var values = Enumerable.Range(0, 2000).Select(i => "client-" + i.ToString(CultureInfo.InvariantCulture)).Append(new string('k', 500)).ToList();
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var value in values)
            {
                Assert.Equal(RedisKeyBuilder.Hash($"{(int)RedisRateLimitPartitionKind.Header}:X-Api-Key:{value}"), tags.Get(RedisRateLimitPartitionKind.Header, "X-Api-Key", value));
            }
        }

        // The same value under another kind (a User policy's anonymous fallback is an Ip partition) is another partition.
        Assert.Equal(RedisKeyBuilder.Hash($"{(int)RedisRateLimitPartitionKind.User}::alice"), tags.Get(RedisRateLimitPartitionKind.User, null, "alice"));
        Assert.Equal(RedisKeyBuilder.Hash($"{(int)RedisRateLimitPartitionKind.Ip}::alice"), tags.Get(RedisRateLimitPartitionKind.Ip, null, "alice"));
        Assert.Equal(RedisKeyBuilder.Hash($"{(int)RedisRateLimitPartitionKind.User}::alice"), tags.Get(RedisRateLimitPartitionKind.User, null, "alice"));
        Assert.Equal(RedisKeyBuilder.Hash($"{(int)RedisRateLimitPartitionKind.Global}::"), tags.Get(RedisRateLimitPartitionKind.Global, null, string.Empty));
    }

    [Fact]
    public void PolicyKey_IsTheKeyBuildersKey_ForEveryTag_AndIsRememberedPerTag()
    {
        var builder = new RedisKeyBuilder("app");
        var keys = new PolicyKeys();
        var tags = Enumerable.Range(0, 2000)
            .Select(i => PartitionTags.Hash(RedisRateLimitPartitionKind.Ip, null, "10.0.0." + i.ToString(CultureInfo.InvariantCulture)))
            .Append(RedisRateLimitingDefaults.KeyFeature)
            .ToList();
        var built = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var tag in tags)
            {
                var array = keys.Get(tag, builder, (b, t) =>
                {
                    built++;
                    return b.Key(RedisRateLimitingDefaults.KeyFeature, t, "api:fw");
                });
                Assert.Equal(builder.Key(RedisRateLimitingDefaults.KeyFeature, tag, "api:fw"), Assert.Single(array));
            }
        }

        // The table is bounded, so 2,001 tags in turn are built again on the second pass; one hot tag is built once.
        Assert.True(built > tags.Count, $"built {built}");
        var hot = tags[7];
        var first = keys.Get(hot, builder, (b, t) => b.Key(RedisRateLimitingDefaults.KeyFeature, t, "api:fw"));
        var again = keys.Get(hot, builder, (_, _) => throw new InvalidOperationException("a remembered key was built again"));
        Assert.Same(first, again);
    }

    /// <summary>The partition value as it was computed before it avoided intermediate allocations.</summary>
    private static string Expected(IPAddress address, int ipv4Prefix, int ipv6Prefix)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var prefix = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ipv4Prefix : ipv6Prefix;
        var bytes = address.GetAddressBytes();
        if (prefix >= bytes.Length * 8)
        {
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
