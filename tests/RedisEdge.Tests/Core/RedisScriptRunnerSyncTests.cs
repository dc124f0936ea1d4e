using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed class RedisScriptRunnerSyncTests(RedisServerFixture redis)
{
    [Fact]
    public async Task EvaluateSync_RunsScript_AndRecoversFromScriptFlush()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        var key = core.Keys.Key("test", "sync1", "counter");

        var first = (RedisResult[])core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000])!;
        await redis.Server.ScriptFlushAsync();
        var second = (RedisResult[])core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000])!;

        Assert.Equal(1, (long)first[0]);
        Assert.Equal(2, (long)second[0]);
    }

    [Fact]
    public async Task EvaluateSync_RedisUnreachable_ThrowsUnavailable_ThenBreakerFailsFast()
    {
        var policy = new RedisFailurePolicyOptions { Timeout = TimeSpan.FromMilliseconds(200), BreakAfterFailures = 1, BreakDuration = TimeSpan.FromMinutes(1) };
        await using var core = CoreTestServices.Create("127.0.0.1:1,connectTimeout=200", policy);
        var key = core.Keys.Key("test", "sync2", "counter");

        Assert.Throws<RedisEdgeUnavailableException>(() => core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000]));
        Assert.True(core.Runner.IsCircuitOpen);
        var ex = Assert.Throws<RedisEdgeUnavailableException>(() => core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000]));
        Assert.Contains("circuit breaker", ex.Message, StringComparison.Ordinal);
    }
}
