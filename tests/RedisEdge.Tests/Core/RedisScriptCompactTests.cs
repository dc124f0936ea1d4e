using System.Reflection;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

/// <summary>
/// Scripts are sent without their comments and indentation (StackExchange.Redis hashes the whole text on every call):
/// what is removed is only that, every script still compiles in Redis, and its line numbers still match the file.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisScriptCompactTests(RedisServerFixture redis)
{
    public static TheoryData<string, string> EmbeddedScripts()
    {
        var data = new TheoryData<string, string>();
        Assembly[] assemblies =
        [
            typeof(RedisEdge.RateLimiting.Internal.RedisRateLimiter).Assembly,
            typeof(RedisEdge.Sessions.Internal.RedisSessionStore).Assembly,
            typeof(RedisEdge.Idempotency.Internal.IdempotencyStore).Assembly,
            typeof(RedisEdge.ResponseCaching.Internal.ResponseCacheStore).Assembly,
        ];
        foreach (var assembly in assemblies)
        {
            foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".lua", StringComparison.Ordinal)))
            {
                using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
                data.Add(resource, reader.ReadToEnd());
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EmbeddedScripts))]
    public async Task EveryEmbeddedScript_CompactedKeepsItsLines_AndCompilesInRedis(string resource, string file)
    {
        var compact = RedisScript.Compact(file);

        Assert.Equal(file.Replace("\r", "", StringComparison.Ordinal).Count(c => c == '\n'), compact.Count(c => c == '\n'));
        Assert.True(compact.Length < file.Length * 0.8, $"{resource}: {file.Length} -> {compact.Length} characters");
        Assert.DoesNotContain("--", compact, StringComparison.Ordinal);
        Assert.All(compact.Split('\n'), line => Assert.False(line.StartsWith(' ') || line.EndsWith(' '), line));

        // SCRIPT LOAD compiles the script: a compaction that broke the syntax fails here.
        var sha = await redis.Server.ScriptLoadAsync(compact);
        Assert.Equal(20, sha.Length);
    }

    [Fact]
    public async Task StringsAndLongStrings_AreKeptByteForByte_CommentsOfEveryFormGo()
    {
        const string Script = """
            --[[ header
            spanning lines ]]
                local a = 'it\'s' .. "--not a comment" -- trailing remark
                local b = [==[
              keep -- this ]] too
            ]==] --[=[ inline ]=] local c = 'x\'--y'
            	return {a, b, c, "tab\tand -- dashes"}   
            """;
        var compact = RedisScript.Compact(Script);

        Assert.Equal(Script.Count(c => c == '\n'), compact.Count(c => c == '\n'));
        Assert.DoesNotContain("header", compact, StringComparison.Ordinal);
        Assert.DoesNotContain("trailing remark", compact, StringComparison.Ordinal);
        Assert.DoesNotContain("inline", compact, StringComparison.Ordinal);

        var original = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(Script))!;
        var compacted = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(compact))!;
        Assert.Equal(original.Select(r => (string?)r), compacted.Select(r => (string?)r));
        Assert.Equal("  keep -- this ]] too\n", (string?)compacted[1]);
    }

    [Fact]
    public async Task ALuaError_NamesTheLineOfTheFile()
    {
        const string Script = """
            -- line 1
            --[[ lines 2
            and 3 ]]
                local x = 1 -- line 4
                return x + nil -- line 5
            """;
        var error = await Assert.ThrowsAsync<RedisServerException>(() => redis.Database.ScriptEvaluateAsync(RedisScript.Compact(Script)));
        Assert.Contains("user_script:5:", error.Message, StringComparison.Ordinal);
    }
}
