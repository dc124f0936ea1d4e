using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Core;

/// <summary>
/// The synchronous path stops waiting at <see cref="RedisFailurePolicyOptions.Timeout"/> while the one send loop it
/// shares with the asynchronous path is still waiting too: whichever settles the call first counts it, once.
/// </summary>
public sealed class RedisScriptRunnerSyncTimeoutTests : PrivateRedisServerTests
{
    [Fact]
    public async Task EvaluateSync_RedisPaused_EachTimedOutCallCountsOneFailure()
    {
        var policy = new RedisFailurePolicyOptions { Timeout = TimeSpan.FromMilliseconds(300), BreakAfterFailures = 2, BreakDuration = TimeSpan.FromMinutes(1) };
        await using var core = CoreTestServices.Create(Server.Configuration, policy);
        var key = core.Keys.Key("test", "synctimeout", "counter");
        core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000]);

        await PauseWritesAsync();
        try
        {
            Assert.Throws<RedisEdgeUnavailableException>(() => core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000]));

            // Well past the send loop's own budget: had it counted the same call again, two failures would open the breaker.
            await Task.Delay(policy.Timeout * 4);
            Assert.Equal(RedisCircuitState.Closed, core.Runner.Breaker.State);

            Assert.Throws<RedisEdgeUnavailableException>(() => core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000]));
            Assert.Equal(RedisCircuitState.Open, core.Runner.Breaker.State);
        }
        finally
        {
            await UnpauseAsync();
        }
    }
}
