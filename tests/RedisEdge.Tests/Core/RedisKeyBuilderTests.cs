using System.Text.RegularExpressions;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed partial class RedisKeyBuilderTests(RedisServerFixture redis)
{
    private static readonly string[] Hostile =
    [
        "{braces}",
        "}{",
        "{",
        "with spaces and\ttabs",
        "line\nbreak\r\n",
        "*?[glob]\\",
        "\0nul",
        new string('x', 10 * 1024),
        "ünïcödé ключ 鍵 🔑",
        "\uD800",
        "re:rl:{victim}:api",
        string.Empty,
    ];

    public static TheoryData<string> HostileInputs() => new(Hostile);

    [Theory]
    [MemberData(nameof(HostileInputs))]
    public void Hash_HostileInput_ProducesFixedLengthSafeToken(string input)
    {
        var hash = RedisKeyBuilder.Hash(input);

        Assert.Matches(SafeTag(), hash);
        Assert.Equal(43, hash.Length);
    }

    [Theory]
    [MemberData(nameof(HostileInputs))]
    public void Key_RawClientInputAsTagOrSuffix_IsRefused(string input)
    {
        var keys = new RedisKeyBuilder("re");

        Assert.Throws<ArgumentException>(() => keys.Key("rl", input));
        Assert.Throws<ArgumentException>(() => keys.Key("rl", "tag", input));
        Assert.Throws<ArgumentException>(() => keys.FeaturePrefix(input));
    }

    [Fact]
    public void Hash_DifferentInputs_DifferentTokens()
    {
        Assert.NotEqual(RedisKeyBuilder.Hash("a"), RedisKeyBuilder.Hash("b"));
        Assert.Equal(RedisKeyBuilder.Hash("same"), RedisKeyBuilder.Hash("same"));
    }

    [Fact]
    public void Key_SameTag_SameClusterHashSlot()
    {
        var keys = new RedisKeyBuilder("re");
        var tag = RedisKeyBuilder.Hash("client-42");

        var slots = new[] { keys.Key("rl", tag, "api"), keys.Key("rl", tag, "burst"), keys.Key("rl", tag) }
            .Select(k => redis.Admin.HashSlot(k))
            .Distinct()
            .ToList();

        Assert.Single(slots);
        Assert.Equal($"re:rl:{{{tag}}}:api", (string?)keys.Key("rl", tag, "api"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a{b")]
    [InlineData("has space")]
    [InlineData("waytoolongprefix-waytoolongprefix-")]
    public void Constructor_InvalidPrefix_Throws(string prefix)
    {
        Assert.Throws<ArgumentException>(() => new RedisKeyBuilder(prefix));
    }

    [Fact]
    public async Task ScriptCall_WithHashedHostileInput_WritesOnlySafeKeysUnderFeaturePrefix()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        foreach (var input in Hostile)
        {
            var key = core.Keys.Key("test", RedisKeyBuilder.Hash(input), "counter");
            await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        }

        var written = await redis.KeysAsync(core.Keys.Prefix + ":");

        Assert.Equal(Hostile.Length, written.Count);
        var prefix = core.Keys.FeaturePrefix("test");
        Assert.All(written, key =>
        {
            Assert.StartsWith(prefix, key, StringComparison.Ordinal);
            Assert.Matches(WrittenKey(), key);
        });
    }

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex SafeTag();

    [GeneratedRegex(@"^[A-Za-z0-9]+:test:\{[A-Za-z0-9_-]{43}\}:counter$")]
    private static partial Regex WrittenKey();
}
