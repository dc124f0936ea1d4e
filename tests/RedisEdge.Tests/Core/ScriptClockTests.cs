using System.Text.RegularExpressions;

namespace RedisEdge.Tests.Core;

/// <summary>
/// Every script reads the Redis server clock at one precision: whole milliseconds since the epoch, the unit of every
/// <c>PX</c>, <c>PEXPIREAT</c> and stored time, so times one script writes mean the same to every other.
/// </summary>
public sealed partial class ScriptClockTests
{
    [Theory]
    [MemberData(nameof(RedisScriptCompactTests.EmbeddedScripts), MemberType = typeof(RedisScriptCompactTests))]
    public void EveryScriptReadingTime_TakesWholeMilliseconds(string resource, string file)
    {
        var reads = TimeRead().Matches(file);
        var nows = WholeMilliseconds().Matches(file);

        Assert.Equal(reads.Count, nows.Count);
        Assert.DoesNotMatch(FractionalMilliseconds(), file);
        Assert.True(reads.Count <= 1, $"{resource} reads TIME {reads.Count} times");
    }

    [GeneratedRegex(@"call\('TIME'\)")]
    private static partial Regex TimeRead();

    [GeneratedRegex(@"local now = tonumber\((\w+)\[1\]\) \* 1000 \+ (math\.)?floor\(tonumber\(\1\[2\]\) / 1000\)")]
    private static partial Regex WholeMilliseconds();

    [GeneratedRegex(@"\+ tonumber\(\w+\[2\]\) / 1000")]
    private static partial Regex FractionalMilliseconds();
}
