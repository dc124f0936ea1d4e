using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed class RedisScriptRunnerTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Evaluate_ReturnsScriptResultComputedWithServerClock()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        var key = core.Keys.Key("test", "t1", "counter");

        var first = (RedisResult[])(await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None))!;
        var second = (RedisResult[])(await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None))!;

        Assert.Equal(1, (long)first[0]);
        Assert.Equal(2, (long)second[0]);
        var serverNow = (await redis.Server.TimeAsync()).ToUniversalTime();
        var scriptNow = DateTime.UnixEpoch.AddTicks((long)second[1] * 10);
        Assert.InRange(scriptNow, serverNow.AddMinutes(-1), serverNow.AddSeconds(1));
        Assert.InRange(await redis.Database.KeyTimeToLiveAsync(key) ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Evaluate_SteadyState_OneEvalShaPerCall()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        var counter = new RedisCommandCounter(core.Connection.Multiplexer);
        var key = core.Keys.Key("test", "t2", "counter");
        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);

        var before = await redis.CommandStatsAsync();
        using var scope = counter.Begin();
        for (var i = 0; i < 5; i++)
        {
            await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        }

        // The client profiler names script calls EVAL whichever form went on the wire; the server tells them apart.
        Assert.Equal(5, scope.Commands.Count);
        var after = await redis.CommandStatsAsync();
        Assert.Equal(5, Delta(before, after, "evalsha"));
        Assert.Equal(0, Delta(before, after, "eval"));
    }

    /// <summary>
    /// After its first call, the runner sends the script's SHA itself (the client's own text path hashes the whole text
    /// on every call to find it), and after a SCRIPT FLUSH it falls back to the text once. StackExchange.Redis' profiler
    /// names a text call EVAL (whatever went on the wire) and a SHA call EVALSHA, which tells the two paths apart.
    /// </summary>
    [Fact]
    public async Task Evaluate_SendsTheTextOnce_ThenTheSha_AndTheTextAgainAfterAFlush()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        var session = new StackExchange.Redis.Profiling.ProfilingSession();
        core.Connection.Multiplexer.RegisterProfiler(() => session);
        var key = core.Keys.Key("test", "t6", "counter");

        async Task<List<string>> Call()
        {
            await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
            return [.. session.FinishProfiling().OrderBy(c => c.CommandCreated).Select(c => c.Command).Where(c => c.StartsWith("EVAL", StringComparison.Ordinal))];
        }

        Assert.Equal(["EVAL"], await Call());
        Assert.Equal(["EVALSHA"], await Call());
        Assert.Equal(["EVALSHA"], await Call());

        await redis.Server.ScriptFlushAsync();
        Assert.Equal(["EVALSHA", "EVAL"], await Call()); // NOSCRIPT, then the text
        Assert.Equal(["EVALSHA"], await Call());
        Assert.Equal(5, (long)(await redis.Database.StringGetAsync(key)));
    }

    [Fact]
    public async Task Evaluate_AfterScriptFlush_RecoversWithoutError()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        var key = core.Keys.Key("test", "t3", "counter");
        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);

        await redis.Server.ScriptFlushAsync();
        var before = await redis.CommandStatsAsync();
        var result = await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        Assert.Equal(2, (long)result[0]);
        var afterRecovery = await redis.CommandStatsAsync();

        // EVALSHA met NOSCRIPT and StackExchange.Redis re-sent the text with EVAL; the caller saw only the result.
        Assert.Equal(1, Delta(before, afterRecovery, "evalsha"));
        Assert.Equal(1, Delta(before, afterRecovery, "eval"));

        var third = await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        var afterSteady = await redis.CommandStatsAsync();
        Assert.Equal(3, (long)third[0]);
        Assert.Equal(0, Delta(afterRecovery, afterSteady, "eval"));
    }

    [Fact]
    public async Task Evaluate_ScriptError_IsRethrownAndDoesNotOpenBreaker()
    {
        await using var core = CoreTestServices.Create(redis.Configuration, new RedisFailurePolicyOptions { BreakAfterFailures = 1 });
        var key = core.Keys.Key("test", "t4", "counter");
        await redis.Database.SetAddAsync(key, "not-a-counter");

        for (var i = 0; i < 3; i++)
        {
            var error = await Assert.ThrowsAsync<RedisServerException>(
                () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
            Assert.Contains("WRONGTYPE", error.Message, StringComparison.Ordinal);
        }

        Assert.False(core.Runner.IsCircuitOpen);
    }

    /// <summary>
    /// A settlement call (complete, release, refund) records work that already happened: an open breaker, opened by
    /// other calls' failures, must not refuse it, and its own success must not close the breaker early (it is no probe).
    /// </summary>
    [Fact]
    public async Task Settle_RunsWhileTheBreakerIsOpen_AndNeitherProbesNorClosesIt()
    {
        await using var core = CoreTestServices.Create(redis.Configuration, new RedisFailurePolicyOptions { BreakAfterFailures = 1, BreakDuration = TimeSpan.FromMinutes(1) });
        var key = core.Keys.Key("test", "t7", "counter");
        Assert.Equal(RedisCircuitTransition.Opened, core.Runner.Breaker.OnFailure());
        Assert.True(core.Runner.IsCircuitOpen);

        await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
            () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
        var settled = (RedisResult[])(await core.Runner.SettleAsync(CoreTestServices.CounterScript, [key], [60_000]))!;

        Assert.Equal(1, (long)settled[0]);
        Assert.Equal(1, (long)await redis.Database.StringGetAsync(key));
        Assert.True(core.Runner.IsCircuitOpen);
    }

    [Fact]
    public async Task Settle_Outage_ThrowsUnavailable_WithoutCountingTowardsTheBreaker()
    {
        // Nothing listens on port 1: every call fails as an outage.
        await using var core = CoreTestServices.Create("127.0.0.1:1,abortConnect=false,connectTimeout=100", new RedisFailurePolicyOptions { BreakAfterFailures = 1, Timeout = TimeSpan.FromMilliseconds(200) });
        var key = core.Keys.Key("test", "t8", "counter");

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RedisEdgeUnavailableException>(() => core.Runner.SettleAsync(CoreTestServices.CounterScript, [key], [60_000]));
        }

        Assert.False(core.Runner.IsCircuitOpen);
        await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
            () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
        Assert.True(core.Runner.IsCircuitOpen);
    }

    private static long Delta(Dictionary<string, long> before, Dictionary<string, long> after, string command) =>
        after.GetValueOrDefault(command) - before.GetValueOrDefault(command);
}
