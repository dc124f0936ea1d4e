using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// rate_limit.lua deciding a batch of m identical requests (hot-partition coalescing): it admits exactly what the same
/// requests sent one by one would, reports per position what they would have been told, and refuses batches for the
/// algorithms that keep per-request state.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitCoalescingScriptTests(RedisServerFixture redis)
{
    private static readonly RedisScript Script = RedisScript.FromResource(typeof(RedisRateLimiter).Assembly, "rate_limit.lua");
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    private RedisKey K(string name) => $"{_prefix}:rl:{{t}}:{name}";

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowCounter)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    public async Task BatchOfFive_AdmitsAndReportsWhatFiveCallsOneByOneWould(RedisRateLimitAlgorithm algorithm)
    {
        // Limit 7, cost 2: three requests fit, the fourth and fifth do not.
        var policy = Policy(algorithm, limit: 7);
        const int cost = 2;

        var sequential = new List<PolicyDecision>[5];
        var sequentialAllowed = new bool[5];
        for (var j = 0; j < 5; j++)
        {
            sequential[j] = [Decision(policy, cost)];
            var reply = await CallAsync(K("one-by-one"), sequential[j], requests: 1);
            sequentialAllowed[j] = reply.Apply(sequential[j], position: 1);
        }

        var batchReply = await CallAsync(K("batch"), [Decision(policy, cost)], requests: 5);
        Assert.Equal(3, batchReply.Admitted);
        for (var j = 0; j < 5; j++)
        {
            List<PolicyDecision> batch = [Decision(policy, cost)];
            var allowed = batchReply.Apply(batch, position: j + 1);
            Assert.Equal(sequentialAllowed[j], allowed);
            Assert.Equal(sequential[j][0].Result, batch[0].Result);
            Assert.True(sequential[j][0].Remaining == batch[0].Remaining, $"position {j + 1}: remaining {batch[0].Remaining}, one by one {sequential[j][0].Remaining}");
            Assert.Equal(sequential[j][0].RetryMs > 0, batch[0].RetryMs > 0);
        }

        Assert.Equal([true, true, true, false, false], sequentialAllowed);

        // The state in Redis is the same: one more request of cost 1 fits in both, then none.
        foreach (var key in new[] { K("one-by-one"), K("batch") })
        {
            Assert.Equal(1, (await CallAsync(key, [Decision(policy, 1)], requests: 3)).Admitted);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task BatchWithSeveralPolicies_ReportsForEveryPositionWhatOneByOneCallsWould(int policyCount)
    {
        // 5 per hour (token bucket), 3 per hour (fixed window), and with three a shadow policy of 2: seven requests.
        // Three are admitted; requests 4-7 are refused by the fixed window alone, since one by one the token bucket
        // would still accept each (only three were committed to it).
        var policies = new List<RateLimitPolicy>
        {
            Policy(RedisRateLimitAlgorithm.TokenBucket, limit: 5),
            Policy(RedisRateLimitAlgorithm.FixedWindow, limit: 3),
            Policy(RedisRateLimitAlgorithm.SlidingWindowCounter, limit: 2, shadow: true),
        }.Take(policyCount).ToList();
        const int requests = 7;

        var oneByOneKeys = policies.Select((_, i) => K("one-by-one-" + i)).ToArray();
        var sequential = new List<(bool Allowed, List<PolicyDecision> Decisions)>();
        for (var j = 0; j < requests; j++)
        {
            var decisions = policies.ConvertAll(p => Decision(p, 1));
            var reply = await CallAsync(oneByOneKeys, decisions, requests: 1);
            sequential.Add((reply.Apply(decisions, position: 1), decisions));
        }

        var batchReply = await CallAsync(policies.Select((_, i) => K("batch-" + i)).ToArray(), policies.ConvertAll(p => Decision(p, 1)), requests);
        Assert.Equal(3, batchReply.Admitted);
        for (var j = 0; j < requests; j++)
        {
            var batch = policies.ConvertAll(p => Decision(p, 1));
            var allowed = batchReply.Apply(batch, position: j + 1);
            var (sequentialAllowed, oneByOne) = sequential[j];
            Assert.Equal(sequentialAllowed, allowed);
            for (var i = 0; i < policies.Count; i++)
            {
                var what = $"position {j + 1}, policy {i}";
                Assert.True(oneByOne[i].Result == batch[i].Result, $"{what}: {batch[i].Result}, one by one {oneByOne[i].Result}");
                Assert.True(oneByOne[i].Remaining == batch[i].Remaining, $"{what}: remaining {batch[i].Remaining}, one by one {oneByOne[i].Remaining}");
                Assert.True(oneByOne[i].RetryMs > 0 == batch[i].RetryMs > 0, $"{what}: retry {batch[i].RetryMs}, one by one {oneByOne[i].RetryMs}");
            }
        }

        // What the middleware reports from those results: only the fixed window is violated, past the third request.
        List<PolicyDecision> last = policies.ConvertAll(p => Decision(p, 1));
        batchReply.Apply(last, position: requests);
        Assert.Equal([RedisRateLimitResult.Allowed, RedisRateLimitResult.Rejected], last.Take(2).Select(d => d.Result));
    }

    [Fact]
    public async Task BatchThatFitsWhole_IsAdmittedWhole_AndTheNextBatchGetsNothing()
    {
        var policy = Policy(RedisRateLimitAlgorithm.FixedWindow, limit: 100);
        Assert.Equal(64, (await CallAsync(K("fits"), [Decision(policy, 1)], requests: 64)).Admitted);
        Assert.Equal(36, (await CallAsync(K("fits"), [Decision(policy, 1)], requests: 64)).Admitted);
        Assert.Equal(0, (await CallAsync(K("fits"), [Decision(policy, 1)], requests: 64)).Admitted);
        Assert.Equal(100, (long)await redis.Database.HashGetAsync(K("fits"), "c"));
    }

    [Fact]
    public async Task ShadowPolicyInABatch_CommitsWhatItWouldAccept_AndRejectsNothing()
    {
        var enforced = Policy(RedisRateLimitAlgorithm.FixedWindow, limit: 3);
        var shadow = Policy(RedisRateLimitAlgorithm.FixedWindow, limit: 1, shadow: true);
        List<PolicyDecision> decisions = [Decision(enforced, 1), Decision(shadow, 1)];
        var reply = await CallAsync([K("enforced"), K("shadow")], decisions, requests: 5);

        Assert.Equal(3, reply.Admitted);
        Assert.Equal(3, (long)await redis.Database.HashGetAsync(K("enforced"), "c"));
        Assert.Equal(1, (long)await redis.Database.HashGetAsync(K("shadow"), "c"));

        Assert.True(reply.Apply(decisions, position: 2));
        Assert.Equal(RedisRateLimitResult.Allowed, decisions[0].Result);
        Assert.Equal(RedisRateLimitResult.ShadowRejected, decisions[1].Result);
        Assert.False(reply.Apply(decisions, position: 4));
        Assert.Equal(RedisRateLimitResult.Rejected, decisions[0].Result);
        Assert.True(decisions[0].RetryMs > 0);
    }

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.Concurrency, 0L)]
    [InlineData(RedisRateLimitAlgorithm.Gcra, 1000L)]
    public async Task Batch_IsRefused_WhereEachRequestNeedsItsOwnState(RedisRateLimitAlgorithm algorithm, long maxQueueDelayMs)
    {
        var options = new RedisRateLimitPolicyOptions { Algorithm = algorithm, PermitLimit = 10, Window = Hour, MaxQueueDelay = TimeSpan.FromMilliseconds(maxQueueDelayMs) };
        var policy = new RateLimitPolicy("p", options, RedisFailureMode.FailOpen);
        var ex = await Assert.ThrowsAsync<RedisServerException>(() => CallAsync(K("refused"), [Decision(policy, 1)], requests: 2, leaseId: "lease"));
        Assert.Contains("needs m = 1", ex.Message, StringComparison.Ordinal);
        Assert.False(await redis.Database.KeyExistsAsync(K("refused")));
    }

    private static RateLimitPolicy Policy(RedisRateLimitAlgorithm algorithm, int limit, bool shadow = false) => new(
        "p",
        new RedisRateLimitPolicyOptions
        {
            Algorithm = algorithm,
            PermitLimit = limit,
            Window = Hour,
            TokensPerPeriod = algorithm == RedisRateLimitAlgorithm.TokenBucket ? 1 : 0,
            Mode = shadow ? RedisRateLimitMode.Shadow : RedisRateLimitMode.Enforce,
        },
        RedisFailureMode.FailOpen);

    private static PolicyDecision Decision(RateLimitPolicy policy, int cost) => new(policy, null, "t", policy.Limit, policy.P1, cost);

    private Task<RateLimitReply> CallAsync(RedisKey key, List<PolicyDecision> decisions, int requests, string? leaseId = null) =>
        CallAsync([key], decisions, requests, leaseId);

    /// <summary>The arguments <see cref="RedisRateLimiter"/> sends, straight to the script.</summary>
    private async Task<RateLimitReply> CallAsync(RedisKey[] keys, List<PolicyDecision> decisions, int requests, string? leaseId = null)
    {
        var args = new List<RedisValue> { decisions.Count };
        foreach (var d in decisions)
        {
            args.AddRange([d.Policy.AlgorithmCode, d.Policy.Shadow ? 1 : 0, d.Limit, d.Policy.PeriodMs, d.Cost, d.P1, d.Policy.P2, leaseId ?? string.Empty]);
        }

        args.Add(requests);
        var reply = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(Script.Text, keys, [.. args]))!;
        return RateLimitReply.Parse(reply, decisions.Count);
    }
}
