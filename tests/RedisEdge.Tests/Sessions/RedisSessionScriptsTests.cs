using RedisEdge.Internal;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Sessions;

/// <summary>Each session script against Redis directly, including missing keys, wrong types and expired sessions.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionScriptsTests(RedisServerFixture redis)
{
    private const long Idle = 60_000;
    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    private IDatabase Db => redis.Database;

    [Fact]
    public async Task Create_Load_Commit_RoundTripFieldsAndSlide()
    {
        var key = Key();
        var abs = (long)await Run("create.lua", key, Idle, 3_600_000, 0, "d:a", "1");
        Assert.True(abs > 0);
        Assert.Equal(0L, (long)await Run("create.lua", key, Idle, 3_600_000, 0));

        await Db.KeyExpireAsync(key, TimeSpan.FromSeconds(5));
        var loaded = (RedisResult[])(await Run("load.lua", key, Idle))!;
        Assert.Contains(loaded, r => (string?)r == "d:a");
        Assert.True((await Db.KeyTimeToLiveAsync(key))!.Value > TimeSpan.FromSeconds(30));

        Assert.Equal(1L, (long)((RedisResult[])(await Run("commit.lua", key, Idle, "0", 0, 1, "", "d:b", "2", "d:a"))!)[0]);
        Assert.Equal("2", (string?)await Db.HashGetAsync(key, "d:b"));
        Assert.False(await Db.HashExistsAsync(key, "d:a"));

        Assert.Equal(2L, (long)((RedisResult[])(await Run("commit.lua", key, Idle, "1", 0, 1, "", "d:c", "3"))!)[0]);
        var fields = (await Db.HashKeysAsync(key)).Select(f => (string)f!).Order().ToArray();
        Assert.Equal(["d:c", "m:a", "m:c", "m:v"], fields);
    }

    [Fact]
    public async Task Fetch_SendsFieldsOnlyWhenTheVersionMoved_AndSlidesOnlyWhenAsked()
    {
        var key = Key();
        Assert.Equal(0L, (long)await Run("fetch.lua", key, Idle, -1));
        await Run("create.lua", key, Idle, 3_600_000, 0, "d:a", "1");

        var first = (RedisResult[])(await Run("fetch.lua", key, 0, -1))!;
        Assert.Equal(0L, (long)first[0]);
        Assert.Contains((RedisResult[])first[2]!, r => (string?)r == "d:a");

        // Verifying without a slide leaves the shortened TTL alone and, at the held version, sends no fields.
        await Db.KeyExpireAsync(key, TimeSpan.FromSeconds(5));
        var verified = (RedisResult[])(await Run("fetch.lua", key, 0, 0))!;
        Assert.Empty((RedisResult[])verified[2]!);
        Assert.InRange((long)verified[1], 1, 5_000);
        Assert.True((await Db.KeyTimeToLiveAsync(key))!.Value <= TimeSpan.FromSeconds(5));

        var slid = (RedisResult[])(await Run("fetch.lua", key, Idle, 0))!;
        Assert.InRange((long)slid[1], 5_001, Idle);
        Assert.True((await Db.KeyTimeToLiveAsync(key))!.Value > TimeSpan.FromSeconds(30));

        Assert.Equal(1L, await Commit(key, Idle, "0", 0, 1, "d:b", "2"));
        var moved = (RedisResult[])(await Run("fetch.lua", key, 0, 0))!;
        Assert.Equal(1L, (long)moved[0]);
        Assert.Contains((RedisResult[])moved[2]!, r => (string?)r == "d:b");

        var wrongType = Key();
        await Db.StringSetAsync(wrongType, "x");
        Assert.Equal(0L, (long)await Run("fetch.lua", wrongType, Idle, -1));
        await Db.HashSetAsync(key, "m:a", DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds());
        Assert.Equal(-1L, (long)await Run("fetch.lua", key, 0, 1));
        Assert.False(await Db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task CommitDestroyDetach_PublishTheTag_FromInsideTheScript_OnlyWhenGivenAChannel()
    {
        var channel = RedisChannel.Literal(_prefix + ":sessions:near");
        var messages = new System.Collections.Concurrent.BlockingCollection<string>();
        var subscriber = Db.Multiplexer.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, m) => messages.Add((string)m!));
        try
        {
            var id = RedisSessionIds.Create();
            var key = (RedisKey)$"{_prefix}:sessions:{{{id}}}";
            await Run("create.lua", key, Idle, 3_600_000, 0, "d:a", "1");
            Assert.True(await Commit(key, Idle, "0", 0, 1, "d:b", "2") > 0); // no channel: nothing published
            var committed = (RedisResult[])(await Run("commit.lua", key, Idle, "0", 0, 1, (string)channel!, "d:c", "3"))!;
            Assert.Equal(2L, (long)committed[0]);
            Assert.True(messages.TryTake(out var message, TimeSpan.FromSeconds(10)));
            Assert.Equal($"{id} 2", message);

            Assert.Equal(1L, (long)((RedisResult[])(await Run("destroy.lua", key, "", (string)channel!))!)[0]);
            Assert.True(messages.TryTake(out message, TimeSpan.FromSeconds(10)));
            Assert.Equal(id, message);

            await Run("create.lua", key, Idle, 3_600_000, 0, "d:a", "1");
            await Run("detach.lua", key, (string)channel!);
            Assert.True(messages.TryTake(out message, TimeSpan.FromSeconds(10)));
            Assert.Equal(id, message);
            Assert.Empty(messages);
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }

    [Fact]
    public async Task Commit_OnMissingOrWrongTypeOrExpired_WritesNothing()
    {
        var missing = Key();
        Assert.Equal(0L, (long)await Run("commit.lua", missing, Idle, "0", 0, 1, "", "d:a", "1"));
        Assert.False(await Db.KeyExistsAsync(missing));

        var wrongType = Key();
        await Db.StringSetAsync(wrongType, "x");
        Assert.Equal(0L, (long)await Run("commit.lua", wrongType, Idle, "0", 0, 1, "", "d:a", "1"));
        Assert.Equal(0L, (long)await Run("load.lua", wrongType, Idle));
        Assert.Equal("x", (string?)await Db.StringGetAsync(wrongType));

        var expired = Key();
        await Run("create.lua", expired, Idle, 3_600_000, 0);
        await Db.HashSetAsync(expired, "m:a", DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds());
        Assert.Equal(-1L, (long)await Run("commit.lua", expired, Idle, "0", 0, 1, "", "d:a", "1"));
        Assert.False(await Db.KeyExistsAsync(expired));
    }

    [Fact]
    public async Task Load_AbsoluteDeadlinePassed_DeletesAndReportsExpired()
    {
        var key = Key();
        await Run("create.lua", key, Idle, 3_600_000, 0);
        await Db.HashSetAsync(key, "m:a", DateTimeOffset.UtcNow.AddMilliseconds(-1).ToUnixTimeMilliseconds());
        Assert.Equal(-1L, (long)await Run("load.lua", key, Idle));
        Assert.False(await Db.KeyExistsAsync(key));
        Assert.Equal(0L, (long)await Run("load.lua", key, Idle));
    }

    [Fact]
    public async Task Create_CarriedOverDeadlinePassed_WritesNothing()
    {
        var key = Key();
        Assert.Equal(-1L, (long)await Run("create.lua", key, Idle, 3_600_000, 0, "m:a", 5, "m:c", 1));
        Assert.False(await Db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task Detach_ReadsAndDeletes_Destroy_RespectsOwner()
    {
        var key = Key();
        await Run("create.lua", key, Idle, 3_600_000, 0, "m:u", "U1", "d:x", "1");
        Assert.Equal(0L, (long)((RedisResult[])(await Run("destroy.lua", key, "U2"))!)[0]);
        Assert.True(await Db.KeyExistsAsync(key));
        var detached = (RedisResult[])(await Run("detach.lua", key))!;
        Assert.Contains(detached, r => (string?)r == "d:x");
        Assert.False(await Db.KeyExistsAsync(key));
        Assert.Equal(0L, (long)await Run("detach.lua", key));

        // A revoke through a user never reaches an unbound session; a logout ('' = any owner) does.
        await Run("create.lua", key, Idle, 3_600_000, 0, "d:x", "1");
        Assert.Equal(0L, (long)((RedisResult[])(await Run("destroy.lua", key, "U1"))!)[0]);
        Assert.Equal(1L, (long)((RedisResult[])(await Run("destroy.lua", key, ""))!)[0]);

        await Run("create.lua", key, Idle, 3_600_000, 0, "m:u", "U1");
        var destroyed = (RedisResult[])(await Run("destroy.lua", key, "U1"))!;
        Assert.Equal(1L, (long)destroyed[0]);
        Assert.Equal("U1", (string?)destroyed[1]);
    }

    [Fact]
    public async Task UserBind_DropsDeadMembers_EvictsInTheGivenOrder_NeverTheNewSession_KeepsEvictedUntilRemoved()
    {
        var user = (RedisKey)$"{_prefix}:sessions:{{u}}:user";
        var far = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds();
        Assert.Empty(Evicted(await Run("user_bind.lua", user, "s1", far + 1, 2, 0, 0, 0, 0)));
        Assert.Empty(Evicted(await Run("user_bind.lua", user, "s2", far + 2, 2, 0, 0, 0, 0)));

        // s1 is dead (idled out): dropped, not counted, nothing evicted.
        Assert.Empty(Evicted(await Run("user_bind.lua", user, "s3", far + 3, 2, 0, 0, 0, 1, "s1", "s2")));
        Assert.Equal(["s2", "s3"], (await Db.SortedSetRangeByRankAsync(user)).Select(m => (string)m!));

        // Over the limit: the caller's order decides (s3 least recently used), the new session is never picked, and the
        // picked member stays indexed until the caller destroyed its session and removes it.
        Assert.Equal(["s3"], Evicted(await Run("user_bind.lua", user, "s4", far + 4, 2, 0, 0, 0, 0, "s4", "s3", "s2")));
        Assert.Equal(3, await Db.SortedSetLengthAsync(user));
        Assert.Equal(1L, (long)await Run("user_remove.lua", user, "s3"));

        // Members the caller did not list as live (pending, or bound concurrently) are never picked: a concurrent login
        // is not failed, and the set stays over the limit until the next binding trims it.
        Assert.Empty(Evicted(await Run("user_bind.lua", user, "s5", far + 5, 2, 0, 0, 0, 0)));

        await Db.SortedSetAddAsync(user, "expired", 5);
        var listed = (RedisResult[])(await Run("user_list.lua", user, 0, 100))!;
        Assert.Equal(["s2", "s4", "s5"], listed.Where((_, i) => i % 2 == 0).Select(r => (string)r!));
        Assert.Equal(3L, (long)await Run("user_remove.lua", user, "s2", "s4", "s5", "unknown"));
        Assert.False(await Db.KeyExistsAsync(user));
    }

    [Fact]
    public async Task PendingSession_IsNotLive_UntilActivated_AndCannotBeActivatedOnceDeleted()
    {
        var key = Key();
        var abs = (long)await Run("create.lua", key, Idle, 3_600_000, 0, "m:u", "U1", "m:p", 10_000, "d:a", "1");
        Assert.True(abs > 0);
        Assert.InRange((await Db.KeyTimeToLiveAsync(key))!.Value.TotalMilliseconds, 1, 10_000);
        Assert.Equal(0L, (long)await Run("load.lua", key, Idle));
        Assert.Equal(0L, await Commit(key, Idle, "0", 0, 1, "d:b", "2"));
        Assert.Equal(0L, (long)await Run("detach.lua", key));
        var peek = (RedisResult[])(await Run("peek.lua", key))!;
        Assert.Equal(1L, (long)peek[4]);

        Assert.Equal(1L, (long)await Run("activate.lua", key, Idle));
        Assert.True((await Db.KeyTimeToLiveAsync(key))!.Value > TimeSpan.FromSeconds(30));
        Assert.Contains((RedisResult[])(await Run("load.lua", key, Idle))!, r => (string?)r == "d:a");
        Assert.Equal(0L, (long)((RedisResult[])(await Run("peek.lua", key))!)[4]);

        // A live session sealed for binding (commit writing m:u and m:p) is pending again, with the short TTL.
        Assert.True(await Commit(key, Idle, "0", 0, 2, "m:u", "U2", "m:p", 10_000) > 0);
        Assert.Equal(0L, (long)await Run("load.lua", key, Idle));
        Assert.InRange((await Db.KeyTimeToLiveAsync(key))!.Value.TotalMilliseconds, 1, 10_000);

        // Revoked while pending: activation fails instead of bringing it back.
        Assert.Equal(1L, (long)((RedisResult[])(await Run("destroy.lua", key, "U2"))!)[0]);
        Assert.Equal(0L, (long)await Run("activate.lua", key, Idle));
        Assert.False(await Db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task UserBind_NamesAFewMembersOldEnoughToHaveIdledOut_NeverTheNewOne_UserList_ReadsPages()
    {
        var user = (RedisKey)$"{_prefix}:sessions:{{u2}}:user";
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        const long horizon = 3_600_000;

        // Scored within the horizon: created at least one idle timeout ago. The new session is scored beyond it.
        await Db.SortedSetAddAsync(user, [new("old1", now + 60_000), new("old2", now + 61_000)]);
        var result = (RedisResult[])(await Run("user_bind.lua", user, "new", now + (2 * horizon), 0, horizon, 8, 0, 0))!;
        Assert.Empty(Strings(result[0]));
        Assert.Equal(["old1", "old2"], Strings(result[1]));

        // k caps the sample; no sample without k; an old session being bound again is never named.
        Assert.Equal(["old1"], Strings(((RedisResult[])(await Run("user_bind.lua", user, "new", now + (2 * horizon), 0, horizon, 1, 0, 0))!)[1]));
        Assert.Empty(Strings(((RedisResult[])(await Run("user_bind.lua", user, "new", now + (2 * horizon), 0, horizon, 0, 0, 0))!)[1]));
        Assert.Equal(["old1"], Strings(((RedisResult[])(await Run("user_bind.lua", user, "old2", now + 61_000, 0, horizon, 8, 0, 0))!)[1]));

        var second = (RedisResult[])(await Run("user_list.lua", user, 1, 1))!;
        Assert.Equal(["old2"], second.Where((_, i) => i % 2 == 0).Select(r => (string)r!));
        Assert.Empty((RedisResult[])(await Run("user_list.lua", user, 3, 10))!);
    }

    [Fact]
    public async Task CreateAndCommit_KeepTheDataSizeUnderMaxSessionBytes_CountingReplacedAndRemovedFields()
    {
        var key = Key();

        // "d:a" + "12345" = 8 bytes; over a limit of 7 nothing is created.
        Assert.Equal(-2L, (long)await Run("create.lua", key, Idle, 3_600_000, 7, "d:a", "12345"));
        Assert.False(await Db.KeyExistsAsync(key));
        Assert.True((long)await Run("create.lua", key, Idle, 3_600_000, 20, "d:a", "12345", "m:u", "U1") > 0);
        Assert.Equal(8L, (long)await Db.HashGetAsync(key, "m:s"));

        // +8 for d:b is 16; replacing d:a by 10 bytes is 13 + 8 = 21 > 20: refused, nothing written.
        Assert.True(await Commit(key, Idle, "0", 20, 1, "d:b", "12345") > 0);
        Assert.Equal(16L, (long)await Db.HashGetAsync(key, "m:s"));
        Assert.Equal(-2L, await Commit(key, Idle, "0", 20, 1, "d:a", "1234567890"));
        Assert.Equal("12345", (string?)await Db.HashGetAsync(key, "d:a"));

        // Removing d:b makes room; a clear starts from zero; without a limit the total is dropped.
        Assert.True(await Commit(key, Idle, "0", 20, 1, "d:a", "1234567890", "d:b") > 0);
        Assert.Equal(13L, (long)await Db.HashGetAsync(key, "m:s"));
        Assert.True(await Commit(key, Idle, "1", 20, 1, "d:c", "1") > 0);
        Assert.Equal(4L, (long)await Db.HashGetAsync(key, "m:s"));
        Assert.True(await Commit(key, Idle, "0", 0, 1, "d:d", "1") > 0);
        Assert.False(await Db.HashExistsAsync(key, "m:s"));

        // With a limit again, the total is computed once from the fields.
        Assert.True(await Commit(key, Idle, "0", 20, 0) > 0);
        Assert.Equal(8L, (long)await Db.HashGetAsync(key, "m:s"));
    }

    /// <summary>Runs commit.lua without a channel: the new version on success, else the script's code (0, -1, -2).</summary>
    private async Task<long> Commit(RedisKey key, long idle, string clear, long max, long n, params RedisValue[] rest)
    {
        var result = await Run("commit.lua", key, [idle, clear, max, n, "", .. rest]);
        return result.Resp2Type == ResultType.Array ? (long)((RedisResult[])result!)[0] : (long)result;
    }

    private static IEnumerable<string> Evicted(RedisResult result) => Strings(((RedisResult[])result!)[0]);

    private static IEnumerable<string> Strings(RedisResult result) => ((RedisResult[])result!).Select(r => (string)r!);

    private RedisKey Key() => $"{_prefix}:sessions:{{{RedisSessionIds.Create()}}}";

    private Task<RedisResult> Run(string script, RedisKey key, params RedisValue[] args) =>
        Db.ScriptEvaluateAsync(RedisScript.FromResource(typeof(RedisSessionStore).Assembly, script).Text, [key], args);
}
