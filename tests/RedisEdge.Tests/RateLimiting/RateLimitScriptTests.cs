using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>rate_limit.lua and release_lease.lua against Redis, one algorithm at a time, including their edge cases.</summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitScriptTests(RedisServerFixture redis)
{
    private static readonly RedisScript Script = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "rate_limit.lua");
    private static readonly RedisScript Release = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "release_lease.lua");
    private const long Hour = 3_600_000;

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    private IDatabase Db => redis.Database;

    private RedisKey K(string name) => $"{_prefix}:rl:{{t}}:{name}";

    private sealed record Policy(RedisRateLimitAlgorithm Algorithm, long Limit, long PeriodMs, int Cost = 1, long P1 = 0, long P2 = 0, string Lease = "", bool Shadow = false);

    private sealed record Outcome(bool Allowed, long[][] Policies)
    {
        /// <summary>How many of the call's requests policy <paramref name="i"/> accepts (1 or 0 for one request).</summary>
        public long Status(int i) => Policies[i][0];

        public long Remaining(int i) => Policies[i][1];

        public long Reset(int i) => Policies[i][2];

        public long Retry(int i) => Policies[i][3];

        public long Delay(int i) => Policies[i][4];
    }

    private async Task<Outcome> Run(params (RedisKey Key, Policy Policy)[] calls)
    {
        var args = new List<RedisValue> { calls.Length };
        foreach (var (_, p) in calls)
        {
            args.AddRange([(int)p.Algorithm + 1, p.Shadow ? 1 : 0, p.Limit, p.PeriodMs, p.Cost, p.P1, p.P2, p.Lease]);
        }

        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(Script.Text, calls.Select(c => c.Key).ToArray(), args.ToArray()))!;
        var policies = new long[calls.Length][];
        for (var i = 0; i < calls.Length; i++)
        {
            policies[i] = Enumerable.Range(0, 5).Select(j => (long)reply[1 + i * 5 + j]).ToArray();
        }

        return new Outcome((long)reply[0] == 1, policies);
    }

    private async Task<long> ServerMs()
    {
        var time = await redis.Server.TimeAsync();
        return new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeMilliseconds();
    }

    private async Task<int> AcceptedOf(RedisKey key, Policy policy, int attempts)
    {
        var accepted = 0;
        for (var i = 0; i < attempts; i++)
        {
            if ((await Run((key, policy))).Allowed)
            {
                accepted++;
            }
        }

        return accepted;
    }

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowCounter)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    [InlineData(RedisRateLimitAlgorithm.Concurrency)]
    public async Task KeyMissing_StartsFullAndAcceptsExactlyTheLimit(RedisRateLimitAlgorithm algorithm)
    {
        var key = K("missing");
        var policy = new Policy(algorithm, 5, Hour, P1: algorithm == RedisRateLimitAlgorithm.Concurrency ? Hour : 0, Lease: "l");
        var first = await Run((key, policy with { Lease = "l0" }));
        Assert.True(first.Allowed);
        Assert.Equal(4, first.Remaining(0));

        var accepted = 0;
        for (var i = 1; i < 10; i++)
        {
            accepted += (await Run((key, policy with { Lease = "l" + i }))).Allowed ? 1 : 0;
        }

        Assert.Equal(4, accepted);
        var rejected = await Run((key, policy with { Lease = "lx" }));
        Assert.False(rejected.Allowed);
        Assert.Equal(0, rejected.Status(0));
        Assert.Equal(0, rejected.Remaining(0));
        Assert.True(rejected.Retry(0) > 0);
        Assert.True(await Db.KeyTimeToLiveAsync(key) is { } ttl && ttl > TimeSpan.Zero, "Every state key must expire.");
    }

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow, "string")]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog, "hash")]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowCounter, "list")]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket, "hash")]
    [InlineData(RedisRateLimitAlgorithm.Gcra, "list")]
    [InlineData(RedisRateLimitAlgorithm.Concurrency, "string")]
    public async Task WrongType_IsTreatedAsEmptyAndReplaced(RedisRateLimitAlgorithm algorithm, string foreignType)
    {
        var key = K("wrong");
        switch (foreignType)
        {
            case "string": await Db.StringSetAsync(key, "garbage{}\n"); break;
            case "hash": await Db.HashSetAsync(key, "x", "y"); break;
            default: await Db.ListLeftPushAsync(key, "x"); break;
        }

        var result = await Run((key, new Policy(algorithm, 3, Hour, P1: algorithm == RedisRateLimitAlgorithm.Concurrency ? Hour : 0, Lease: "a")));

        Assert.True(result.Allowed);
        Assert.Equal(2, result.Remaining(0));
        Assert.NotEqual(foreignType, (await Db.ExecuteAsync("TYPE", key)).ToString());
    }

    [Fact]
    public async Task GarbageValues_OfTheRightType_AreTreatedAsEmpty()
    {
        await Db.StringSetAsync(K("g"), "not-a-number");
        await Db.StringSetAsync(K("h"), "NaN?");
        var gcra = await Run((K("g"), new Policy(RedisRateLimitAlgorithm.Gcra, 3, Hour)));
        var bucket = await Run((K("h"), new Policy(RedisRateLimitAlgorithm.TokenBucket, 3, Hour)));
        Assert.True(gcra.Allowed);
        Assert.True(bucket.Allowed);
        Assert.Equal(2, bucket.Remaining(0));
    }

    /// <summary>
    /// A fixed window's state is a count whose key lives exactly as long as its window. Alone, an enforced fixed window
    /// takes the script's short path; with another policy, the general one. Both must read and write the same state.
    /// </summary>
    private async Task<Outcome> RunFixedWindow(RedisKey key, long limit, bool withAnotherPolicy, int cost = 1)
    {
        var policy = new Policy(RedisRateLimitAlgorithm.FixedWindow, limit, Hour, cost);
        return withAnotherPolicy
            ? await Run((key, policy), (K("other-" + (string)key!), new Policy(RedisRateLimitAlgorithm.TokenBucket, 1000, Hour)))
            : await Run((key, policy));
    }

    private async Task<long> ExpiresAtMs(RedisKey key) => (long)await Db.ExecuteAsync("PEXPIRETIME", key);

    /// <summary>
    /// The key expires on the last millisecond of hour window <paramref name="window"/>, or of the next one (the hour may
    /// have turned since the clock was read).
    /// </summary>
    private async Task AssertExpiresOnWindowsLastMsAsync(RedisKey key, long window) =>
        Assert.Contains(await ExpiresAtMs(key), new[] { ((window + 1) * Hour) - 1, ((window + 2) * Hour) - 1 });

    /// <summary>One request of a fixed window of 5 is admitted, and leaves what it should in the reply and in Redis.</summary>
    private async Task AdmittedAsync(RedisKey key, bool withAnotherPolicy, long remaining, long count)
    {
        var outcome = await RunFixedWindow(key, 5, withAnotherPolicy);
        Assert.True(outcome.Allowed);
        Assert.Equal(remaining, outcome.Remaining(0));
        Assert.Equal(count, (long)await Db.HashGetAsync(key, "c"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FixedWindow_TheKeyLivesForItsWindow_AndAWindowThatIsOverCountsNothing(bool withAnotherPolicy)
    {
        var key = K("fw-life");
        var window = await ServerMs() / Hour;
        Assert.True((await RunFixedWindow(key, 5, withAnotherPolicy)).Allowed);

        // The key expires on the window's last millisecond (the hour may have turned since the clock was read).
        await AssertExpiresOnWindowsLastMsAsync(key, window);

        // A full window refuses until it ends: the retry is the window's end.
        await Db.HashSetAsync(key, "c", 5);
        var rejected = await RunFixedWindow(key, 5, withAnotherPolicy);
        Assert.False(rejected.Allowed);
        Assert.InRange(rejected.Retry(0), 1, Hour);
        Assert.Equal(rejected.Reset(0), rejected.Retry(0));
        Assert.Equal(5, (long)await Db.HashGetAsync(key, "c"));

        // The same count in a window that is over (its key has expired) counts nothing.
        await Db.KeyExpireAsync(key, DateTime.UtcNow.AddDays(-1));
        var fresh = await RunFixedWindow(key, 5, withAnotherPolicy);
        Assert.True(fresh.Allowed);
        Assert.Equal(4, fresh.Remaining(0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FixedWindow_ACountWithNoExpiry_EndsWithTheWindowThatRefusesIt(bool withAnotherPolicy)
    {
        // Not written by RedisEdge (every script sets the window's expiry with the first count): it must not refuse
        // the partition forever.
        var key = K("fw-no-ttl");
        await Db.HashSetAsync(key, "c", 5);
        var window = await ServerMs() / Hour;

        Assert.False((await RunFixedWindow(key, 5, withAnotherPolicy)).Allowed);
        await AssertExpiresOnWindowsLastMsAsync(key, window);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FixedWindow_AKeyOfTheEarlierFormat_CountsUntilItExpires(bool withAnotherPolicy)
    {
        // Before, the state also held its window number (w) and expired 1 ms after the window: an upgraded fleet
        // keeps the counts of the window it is in.
        var key = K("fw-earlier");
        var window = await ServerMs() / Hour;
        await Db.HashSetAsync(key, [new("w", window), new("c", 3)]);
        await Db.ExecuteAsync("PEXPIREAT", key, ((window + 1) * Hour) + 1);

        await AdmittedAsync(key, withAnotherPolicy, remaining: 1, count: 4);
    }

    [Fact]
    public async Task FixedWindow_AloneAndWithOtherPolicies_CountsOneWindow()
    {
        var key = K("fw-shared");
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await RunFixedWindow(key, 5, withAnotherPolicy: false)).Allowed);
        }

        Assert.Equal(1, (await RunFixedWindow(key, 5, withAnotherPolicy: true)).Remaining(0));
        Assert.Equal(0, (await RunFixedWindow(key, 5, withAnotherPolicy: false)).Remaining(0));
        Assert.False((await RunFixedWindow(key, 5, withAnotherPolicy: true)).Allowed);
        Assert.False((await RunFixedWindow(key, 5, withAnotherPolicy: false)).Allowed);
        Assert.Equal(5, (long)await Db.HashGetAsync(key, "c"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FixedWindow_ARefusalInANewWindow_LeavesNoKey(bool withAnotherPolicy)
    {
        var key = K("fw-refused");
        var outcome = await RunFixedWindow(key, 1, withAnotherPolicy, cost: 2);
        Assert.False(outcome.Allowed);
        Assert.Equal(-1, outcome.Retry(0));
        Assert.Equal(1, outcome.Remaining(0));
        Assert.False(await Db.KeyExistsAsync(key));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FixedWindow_ACountThatIsNotANumber_IsTreatedAsEmpty(bool withAnotherPolicy)
    {
        var key = K("fw-garbage");
        await Db.HashSetAsync(key, "c", "many");
        await AdmittedAsync(key, withAnotherPolicy, remaining: 4, count: 1);
    }

    [Fact]
    public async Task SlidingLog_EntryExactlyOneWindowOld_HasLeftTheWindow()
    {
        var key = K("swl");
        var now = await ServerMs();
        await Db.SortedSetAddAsync(key, [new("old", now - Hour), new("recent", now - 1000)]);
        var policy = new Policy(RedisRateLimitAlgorithm.SlidingWindowLog, 2, Hour);

        var first = await Run((key, policy));
        Assert.True(first.Allowed);
        Assert.Equal(2, await Db.SortedSetLengthAsync(key));
        var second = await Run((key, policy));
        Assert.False(second.Allowed);

        // The retry moment is when "recent" leaves the window: about an hour minus a second.
        Assert.InRange(second.Retry(0), Hour - 1000 - 5000, Hour - 1000 + 5);
    }

    [Fact]
    public async Task SlidingLog_MemoryIsBoundedByTheLimit()
    {
        var key = K("bounded");
        var policy = new Policy(RedisRateLimitAlgorithm.SlidingWindowLog, 7, Hour);
        await AcceptedOf(key, policy, 50);
        Assert.Equal(7, await Db.SortedSetLengthAsync(key));
    }

    [Fact]
    public async Task SlidingCounter_PreviousWindowWeighsByTheRemainingFraction()
    {
        var key = K("swc");
        var now = await ServerMs();
        var window = now / Hour;
        var elapsedFraction = (now - window * Hour) / (double)Hour;
        await Db.HashSetAsync(key, [new("w", window - 1), new("c", 100)]);
        var policy = new Policy(RedisRateLimitAlgorithm.SlidingWindowCounter, 100, Hour);

        var accepted = await AcceptedOf(key, policy, 120);

        // Estimate = 100 * (1 - elapsed) + current <= 100, so about 100 * elapsed requests fit.
        var expected = (int)Math.Floor(100 * elapsedFraction);
        Assert.InRange(accepted, Math.Max(0, expected - 1), expected + 1);
    }

    [Fact]
    public async Task SlidingCounter_T_IsWhenThePreviousWindowHasDecayedByOneMorePermit()
    {
        // A day's window whose previous day used all 1,000 permits: one permit comes back every 86.4 s as that weight
        // decays, so no more than r may be used for at most 86.4 s, not until the day ends.
        const long day = 24 * Hour;
        var key = K("swc-t");
        var now = await ServerMs();
        await Db.HashSetAsync(key, [new("w", (now / day) - 1), new("c", 1000)]);

        var result = await Run((key, new Policy(RedisRateLimitAlgorithm.SlidingWindowCounter, 1000, day)));
        Assert.InRange(result.Reset(0), 1, (day / 1000) + 1);
    }

    [Fact]
    public async Task TokenBucket_RefillsFractionally()
    {
        var key = K("tb");
        var now = await ServerMs();

        // Empty 250 ms ago at 4 tokens per second: one token is back, not zero and not a whole period's worth. The
        // state is the time the bucket is full again: 10 tokens at 4 per second take 2,500 ms from empty.
        await Db.StringSetAsync(key, (now - 250 + 2500).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var policy = new Policy(RedisRateLimitAlgorithm.TokenBucket, 10, 1000, P1: 4);
        var first = await Run((key, policy));
        Assert.True(first.Allowed);
        var second = await Run((key, policy));
        Assert.False(second.Allowed);
        Assert.InRange(second.Retry(0), 1, 250);
    }

    [Fact]
    public async Task TokenBucket_OldStateRefillsToCapacityNotBeyond()
    {
        var key = K("tbfull");
        await Db.StringSetAsync(key, "1");
        var accepted = await AcceptedOf(key, new Policy(RedisRateLimitAlgorithm.TokenBucket, 3, Hour, P1: 1), 10);
        Assert.Equal(3, accepted);
    }

    [Fact]
    public async Task Gcra_Meter_AllowsTheBurstThenRejectsWithTheEmissionInterval()
    {
        var key = K("gcra");
        var policy = new Policy(RedisRateLimitAlgorithm.Gcra, 10, Hour, P1: 2);
        Assert.Equal(2, await AcceptedOf(key, policy, 5));
        var rejected = await Run((key, policy));
        Assert.False(rejected.Allowed);

        // Next slot: one emission interval (an hour / 10) after the first request, minus the time elapsed since.
        Assert.InRange(rejected.Retry(0), (Hour / 10) - 5000, Hour / 10);
    }

    [Fact]
    public async Task Gcra_Queue_ReturnsGrowingDelaysUpToTheMaximumThenRejects()
    {
        var key = K("gcraq");
        var policy = new Policy(RedisRateLimitAlgorithm.Gcra, 10, 10_000, P1: 1, P2: 2_500);
        var delays = new List<long>();
        Outcome result;
        while ((result = await Run((key, policy))).Allowed)
        {
            delays.Add(result.Delay(0));
            Assert.True(delays.Count < 10, "The queue must be bounded by the maximum delay.");
        }

        Assert.Equal(0, delays[0]);
        Assert.Equal(delays.Order(), delays);
        Assert.True(delays[^1] <= 2_500);
        Assert.Equal(3, delays.Count);
        Assert.InRange(result.Retry(0), 1, 1_000);
    }

    [Fact]
    public async Task Concurrency_ExpiredLeasesArePurgedAndReleaseFreesASlot()
    {
        var key = K("conc");
        var now = await ServerMs();
        await Db.SortedSetAddAsync(key, [new("dead:1", now - 1), new("alive:1", now + Hour)]);
        var policy = new Policy(RedisRateLimitAlgorithm.Concurrency, 2, 0, P1: Hour);

        Assert.True((await Run((key, policy with { Lease = "a" }))).Allowed);
        Assert.False((await Run((key, policy with { Lease = "b" }))).Allowed);
        Assert.Equal(1, (long)await Db.ScriptEvaluateAsync(Release.Text, [key], ["a", 1]));
        Assert.True((await Run((key, policy with { Lease = "c" }))).Allowed);
        Assert.Equal(0, (long)await Db.ScriptEvaluateAsync(Release.Text, [key], ["never-held", 1]));
    }

    [Fact]
    public async Task TwoPolicies_RejectionBySecond_ConsumesNothingFromFirst()
    {
        var a = K("a");
        var b = K("b");
        var wide = new Policy(RedisRateLimitAlgorithm.SlidingWindowLog, 10, Hour);
        var narrow = new Policy(RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        Assert.True((await Run((a, wide), (b, narrow))).Allowed);
        for (var i = 0; i < 5; i++)
        {
            var rejected = await Run((a, wide), (b, narrow));
            Assert.False(rejected.Allowed);
            Assert.Equal(1, rejected.Status(0));
            Assert.Equal(0, rejected.Status(1));
            Assert.Equal(9, rejected.Remaining(0));
        }

        Assert.Equal(1, await Db.SortedSetLengthAsync(a));
    }

    [Fact]
    public async Task ShadowPolicy_ReportsButNeverRejects()
    {
        var key = K("shadow");
        var policy = new Policy(RedisRateLimitAlgorithm.FixedWindow, 1, Hour, Shadow: true);
        Assert.Equal(1, (await Run((key, policy))).Status(0));
        var over = await Run((key, policy));
        Assert.True(over.Allowed);

        // x = 0: the shadow policy would have refused the request; it let it through and took nothing.
        Assert.Equal(0, over.Status(0));
        Assert.Equal(1, await Db.HashGetAsync(key, "c"));
        Assert.True(over.Retry(0) > 0);
    }

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowCounter)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    [InlineData(RedisRateLimitAlgorithm.Concurrency)]
    public async Task CostAboveTheLimit_IsRejectedWithNeverAndConsumesNothing(RedisRateLimitAlgorithm algorithm)
    {
        var key = K("cost");
        var result = await Run((key, new Policy(algorithm, 3, Hour, Cost: 4, P1: algorithm == RedisRateLimitAlgorithm.Concurrency ? Hour : 0, Lease: "x")));
        Assert.False(result.Allowed);
        Assert.Equal(-1, result.Retry(0));
        Assert.True((await Run((key, new Policy(algorithm, 3, Hour, Cost: 3, P1: algorithm == RedisRateLimitAlgorithm.Concurrency ? Hour : 0, Lease: "y")))).Allowed);
    }

    [Fact]
    public async Task InvalidArguments_AreScriptErrors()
    {
        await Assert.ThrowsAsync<RedisServerException>(() => Run((K("bad"), new Policy((RedisRateLimitAlgorithm)41, 3, Hour))));
        await Assert.ThrowsAsync<RedisServerException>(() => Run((K("bad"), new Policy(RedisRateLimitAlgorithm.FixedWindow, -3, Hour))));
    }

    [Fact]
    public async Task Cost9000_SlidingLogAndConcurrency_CommitWhole_AndTheReleaseRemovesEveryLease()
    {
        // 2 x 9,000 values is past what Lua 5.1 can unpack in one call; the writes are batched.
        var log = K("big-swl");
        var leases = K("big-conc");
        var counter = K("big-fw");
        var outcome = await Run(
            (counter, new Policy(RedisRateLimitAlgorithm.FixedWindow, 100_000, Hour, Cost: 9_000)),
            (log, new Policy(RedisRateLimitAlgorithm.SlidingWindowLog, 100_000, Hour, Cost: 9_000)),
            (leases, new Policy(RedisRateLimitAlgorithm.Concurrency, 100_000, 0, Cost: 9_000, P1: 60_000, Lease: "big")));

        Assert.True(outcome.Allowed);
        Assert.Equal(91_000, outcome.Remaining(1));
        Assert.Equal(9_000, await Db.SortedSetLengthAsync(log));
        Assert.Equal(9_000, await Db.SortedSetLengthAsync(leases));

        Assert.Equal(9_000, (long)await Db.ScriptEvaluateAsync(Release.Text, [leases], ["big", "9000"]));
        Assert.Equal(0, (long)await Db.ScriptEvaluateAsync(Release.Text, [leases], ["big", "9000"]));
        Assert.Equal(0, await Db.SortedSetLengthAsync(leases));
    }
}
