using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

/// <summary>
/// How the script runner classifies what can go wrong with a call, on private redis-servers the tests put into
/// each failure state for real: out of memory, read-only replica, paused, refused by the client.
/// </summary>
public sealed class RedisFailureClassificationTests : IAsyncLifetime
{
    private RedisServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerProcess.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(RedisErrorKind.OutOfMemory, true)]
    [InlineData(RedisErrorKind.ReadOnly, true)]
    [InlineData(RedisErrorKind.Loading, true)]
    [InlineData(RedisErrorKind.Busy, true)]
    [InlineData(RedisErrorKind.MasterDown, true)]
    [InlineData(RedisErrorKind.ClusterDown, true)]
    [InlineData(RedisErrorKind.TryAgain, true)]
    [InlineData(RedisErrorKind.WrongType, false)]
    [InlineData(RedisErrorKind.UnknownError, false)]
    public void ServerError_ClassifiedByItsKind(RedisErrorKind kind, bool outage)
    {
        var error = new RedisServerException(kind, CommandFlags.None, kind + " some reply");

        Assert.Equal(outage ? RedisFailureKind.Outage : RedisFailureKind.ScriptError, RedisErrorClassifier.Classify(error));
    }

    [Fact]
    public void ClientAndConnectionErrors_Classified()
    {
        Assert.Equal(RedisFailureKind.ClientError, RedisErrorClassifier.Classify(new RedisCommandException("Multi-key operations must involve a single slot")));
        Assert.Equal(RedisFailureKind.ClientError, RedisErrorClassifier.Classify(new RedisServerException(RedisErrorKind.CrossSlot, CommandFlags.None, "CROSSSLOT Keys in request don't hash to the same slot")));
        Assert.Equal(RedisFailureKind.Outage, RedisErrorClassifier.Classify(new RedisConnectionException(ConnectionFailureType.SocketFailure, CommandFlags.None, "down", null, CommandStatus.Sent)));
        Assert.Equal(RedisFailureKind.Outage, RedisErrorClassifier.Classify(new RedisTimeoutException(CommandFlags.None, "slow", CommandStatus.Sent)));
        Assert.Equal(RedisFailureKind.Outage, RedisErrorClassifier.Classify(new TimeoutException()));
        Assert.Equal(RedisFailureKind.Unknown, RedisErrorClassifier.Classify(new InvalidCastException()));
    }

    [Fact]
    public async Task OutOfMemory_NoEviction_IsAnOutage_OpensBreakerAfterThreshold_RecoversWhenMemoryFrees()
    {
        var policy = new RedisFailurePolicyOptions { BreakAfterFailures = 3, BreakDuration = TimeSpan.FromMilliseconds(200) };
        await using var core = CoreTestServices.Create(_server.Configuration, policy);
        var key = core.Keys.Key("test", "oom", "counter");
        await using var admin = await AdminAsync();
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await admin.GetDatabase().StringSetAsync("ballast", new string('x', 2 * 1024 * 1024));
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await server.ConfigSetAsync("maxmemory", "1mb");

        for (var i = 0; i < 3; i++)
        {
            var ex = await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
                () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
            Assert.Equal(RedisErrorKind.OutOfMemory, Assert.IsType<RedisServerException>(ex.InnerException).Kind);
            Assert.True(ex.RetryAfter >= TimeSpan.FromSeconds(1));
        }

        Assert.True(core.Runner.IsCircuitOpen);
        var open = await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
            () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
        Assert.Contains("circuit breaker", open.Message, StringComparison.Ordinal);

        await server.ConfigSetAsync("maxmemory", "0");
        var value = await EventuallyAsync(async () =>
        {
            try
            {
                return (long?)(long)(await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None))[0];
            }
            catch (RedisEdgeUnavailableException)
            {
                return null;
            }
        });
        Assert.Equal(1, value);
        Assert.False(core.Runner.IsCircuitOpen);
    }

    [Fact]
    public async Task ReadOnlyReplica_IsAnOutage()
    {
        await using var primary = await RedisServerProcess.StartAsync();
        await using var admin = await AdminAsync();
        await admin.GetServer(admin.GetEndPoints()[0]).ReplicaOfAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, primary.Port));
        var policy = new RedisFailurePolicyOptions { BreakAfterFailures = 2 };
        await using var core = CoreTestServices.Create(_server.Configuration, policy);
        var key = core.Keys.Key("test", "ro", "counter");

        for (var i = 0; i < 2; i++)
        {
            var ex = await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
                () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
            Assert.Equal(RedisErrorKind.ReadOnly, Assert.IsType<RedisServerException>(ex.InnerException).Kind);
        }

        Assert.True(core.Runner.IsCircuitOpen);
    }

    [Fact]
    public async Task ClientRefusedCommand_IsAConfigurationError_LoggedOnce_NeverOpensBreaker_AndReleasesTheProbe()
    {
        // EVAL and EVALSHA disabled in the command map: StackExchange.Redis throws RedisCommandException before
        // sending, as it does for keys in different cluster slots.
        var time = new ManualTimeProvider();
        var log = new ListLogger();
        var policy = new RedisFailurePolicyOptions { BreakAfterFailures = 2, BreakDuration = TimeSpan.FromSeconds(5) };
        await using var core = CoreTestServices.Create(_server.Configuration + ",$EVAL=,$EVALSHA=", policy, logger: log, timeProvider: time);
        var key = core.Keys.Key("test", "client", "counter");

        for (var i = 0; i < 5; i++)
        {
            var ex = await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
                () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
            Assert.IsType<RedisCommandException>(ex.InnerException);
            Assert.Contains("configuration error", ex.Message, StringComparison.Ordinal);
        }

        Assert.False(core.Runner.IsCircuitOpen);
        Assert.Single(log.At(LogLevel.Error));
        Assert.Equal("ClientCommandError", log.At(LogLevel.Error)[0].EventName);

        // Opened by earlier outages, half-open now: the probe meets a client error. It must be given back, or the
        // breaker would refuse every call until the process restarts.
        core.Runner.Breaker.OnFailure();
        core.Runner.Breaker.OnFailure();
        Assert.True(core.Runner.IsCircuitOpen);
        time.Advance(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 3; i++)
        {
            var ex = await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
                () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
            Assert.IsType<RedisCommandException>(ex.InnerException);
        }
    }

    [Fact]
    public async Task SynchronousCall_RedisPaused_FailsWithinFailureTimeoutNotSyncTimeout()
    {
        var budget = TimeSpan.FromMilliseconds(300);
        await using var core = CoreTestServices.Create(_server.Configuration + ",syncTimeout=10000", new RedisFailurePolicyOptions { Timeout = budget });
        var key = core.Keys.Key("test", "paused", "counter");

        // Warm up (connect, load the script) outside the runner: on a loaded machine that can take longer than the budget.
        await core.Connection.Database.ScriptEvaluateAsync(CoreTestServices.CounterScript.Text, [key], [60_000]);
        await using var admin = await AdminAsync();
        await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("CLIENT", "PAUSE", "3000", "ALL");

        var watch = Stopwatch.StartNew();
        var ex = Assert.Throws<RedisEdgeUnavailableException>(() => core.Runner.Evaluate(CoreTestServices.CounterScript, [key], [60_000]));
        watch.Stop();

        Assert.IsType<TimeoutException>(ex.InnerException);

        // A contract bound, not a speed claim: the configured budget plus scheduling slack, far below SyncTimeout.
        Assert.True(watch.Elapsed < budget + TimeSpan.FromMilliseconds(1500), $"The call waited {watch.Elapsed}.");
        await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("CLIENT", "UNPAUSE");
    }

    [Fact]
    public async Task Outage_LogsOncePerBreakerTransition_NotPerCall()
    {
        var log = new ListLogger();
        var policy = new RedisFailurePolicyOptions { Timeout = TimeSpan.FromMilliseconds(300), BreakAfterFailures = 2, BreakDuration = TimeSpan.FromMilliseconds(300) };
        await using var core = CoreTestServices.Create(_server.Configuration, policy, logger: log);
        var key = core.Keys.Key("test", "logs", "counter");
        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);

        await _server.KillAsync();
        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
                () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));
        }

        // Let one probe through while Redis is still down.
        await Task.Delay(policy.BreakDuration + TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAsync<RedisEdgeUnavailableException>(
            () => core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None));

        await _server.StartAgainAsync();
        await EventuallyAsync(async () =>
        {
            try
            {
                return (long?)(long)(await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None))[0];
            }
            catch (RedisEdgeUnavailableException)
            {
                return null;
            }
        });

        Assert.Single(log.Named("CircuitOpened"));
        Assert.NotEmpty(log.Named("CircuitProbeFailed"));
        Assert.Single(log.Named("CircuitClosed"));

        // Per-call failures are Debug; everything at Warning or above is a transition, and names the error without a
        // stack trace: an outage is expected operation.
        Assert.All(
            log.Entries.Where(e => e.Level >= LogLevel.Warning),
            e =>
            {
                Assert.Contains(e.EventName, new[] { "CircuitOpened", "CircuitProbeFailed" });
                Assert.Null(e.Exception);
            });
    }

    private async Task<ConnectionMultiplexer> AdminAsync()
    {
        var options = ConfigurationOptions.Parse(_server.Configuration);
        options.AllowAdmin = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> attempt)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await attempt() is T value)
            {
                return value;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The condition did not hold within 30 s.");
    }
}
