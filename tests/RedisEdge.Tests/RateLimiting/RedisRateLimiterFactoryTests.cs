using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>RedisEdge policies as <see cref="RateLimiter"/>s: one fleet-wide quota, one script call, the failure mode.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisRateLimiterFactoryTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static IRedisRateLimiterFactory Factory(RedisFleetInstance instance) => instance.Services.GetRequiredService<IRedisRateLimiterFactory>();

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowCounter)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    public async Task ThreeInstances64CallersEachInALoop_ShareOneQuota_ExactlyTheLimitAcquired_RestRefusedWithRetryAfter(RedisRateLimitAlgorithm algorithm)
    {
        // One limiter per instance, 64 callers each acquiring 3 times in a loop: 576 acquisitions for 100 permits.
        const int limit = 100;
        const int callers = 64;
        const int rounds = 3;
        var settings = new Dictionary<string, string?>().Policy("partner", algorithm, limit, Hour, ("TokensPerPeriod", "1"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 3);
        var limiters = fleet.Instances.Select(i => Factory(i).Create("partner", "any")).ToList();

        var perCaller = await Task.WhenAll(Enumerable.Range(0, 3 * callers).Select(async c =>
        {
            var mine = new List<RateLimitLease>();
            for (var r = 0; r < rounds; r++)
            {
                mine.Add(await limiters[c % 3].AcquireAsync());
            }

            return mine;
        }));
        var leases = perCaller.SelectMany(l => l).ToList();

        Assert.Equal(limit, leases.Count(l => l.IsAcquired));
        foreach (var refused in leases.Where(l => !l.IsAcquired))
        {
            Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
            Assert.True(refused.TryGetMetadata(MetadataName.ReasonPhrase, out var reason) && reason!.Contains("partner", StringComparison.Ordinal));
        }

        var statistics = limiters.Select(l => l.GetStatistics()!).ToList();
        Assert.Equal(limit, statistics.Sum(s => s.TotalSuccessfulLeases));
        Assert.Equal(3 * callers * rounds - limit, statistics.Sum(s => s.TotalFailedLeases));
        Assert.All(statistics, s => Assert.Equal(0, s.CurrentAvailablePermits));
    }

    [Fact]
    public async Task AcquireAsync_MakesOneScriptCall_CostIsThePermitCount_StatisticsReportTheLastDecision()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 10, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var limiter = Factory(fleet[0]).Create("api", "k");

        for (var i = 0; i < 3; i++)
        {
            using var scope = fleet[0].Commands.Begin();
            using var lease = await limiter.AcquireAsync(3);
            Assert.True(lease.IsAcquired);
            Assert.Equal(["EVAL"], scope.Commands);
        }

        Assert.Equal(1, limiter.GetStatistics()!.CurrentAvailablePermits);
        using (var scope = fleet[0].Commands.Begin())
        {
            using var tooMany = await limiter.AcquireAsync(3);
            Assert.False(tooMany.IsAcquired);
            Assert.Equal(["EVAL"], scope.Commands);
        }

        using var last = await limiter.AcquireAsync(1);
        Assert.True(last.IsAcquired);
        var statistics = limiter.GetStatistics()!;
        Assert.Equal((0L, 4L, 1L), (statistics.CurrentAvailablePermits, statistics.TotalSuccessfulLeases, statistics.TotalFailedLeases));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await limiter.AcquireAsync(11));
    }

    [Fact]
    public async Task Partitioned_SeparatesKeys_EachKeyGetsItsOwnQuota()
    {
        var settings = new Dictionary<string, string?>().Policy("host", RedisRateLimitAlgorithm.FixedWindow, 2, Hour, ("Partition", "Header"), ("PartitionName", "Host"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 2);
        var limiters = fleet.Instances.Select(i => Factory(i).CreatePartitioned<Uri>("host", u => u.Host)).ToList();

        var a = new Uri("https://a.example/x");
        var b = new Uri("https://b.example/y");
        var acquired = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 };
        for (var i = 0; i < 6; i++)
        {
            using var leaseA = await limiters[i % 2].AcquireAsync(a);
            using var leaseB = await limiters[(i + 1) % 2].AcquireAsync(b);
            acquired["a"] += leaseA.IsAcquired ? 1 : 0;
            acquired["b"] += leaseB.IsAcquired ? 1 : 0;
        }

        Assert.Equal(2, acquired["a"]);
        Assert.Equal(2, acquired["b"]);
    }

    [Fact]
    public async Task AttemptAcquire_NeverCallsRedis_RefusesUndecided_ThenFromTheDenyCacheWithRetryAfter()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var limiter = Factory(fleet[0]).Create("api", "k");

        using (var scope = fleet[0].Commands.Begin())
        {
            using var undecided = limiter.AttemptAcquire();
            Assert.False(undecided.IsAcquired);
            Assert.False(undecided.TryGetMetadata(MetadataName.RetryAfter, out _));
            Assert.True(undecided.TryGetMetadata(MetadataName.ReasonPhrase, out var reason));
            Assert.Equal(RedisRateLimiterFactory.NotDecidedSynchronously, reason);
            Assert.Empty(scope.Commands);
        }

        Assert.True((await limiter.AcquireAsync()).IsAcquired);
        Assert.False((await limiter.AcquireAsync()).IsAcquired);
        using (var scope = fleet[0].Commands.Begin())
        {
            using var denied = limiter.AttemptAcquire();
            Assert.False(denied.IsAcquired);
            Assert.True(denied.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
            using var deniedAsync = await limiter.AcquireAsync();
            Assert.False(deniedAsync.IsAcquired);
            Assert.Empty(scope.Commands);
        }
    }

    [Fact]
    public async Task RedisOutage_FailOpenGrantsWithReason_FailClosedRefusesWithRetryAfter()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("open", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("closed", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailClosed"));
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var open = Factory(fleet[0]).Create("open", "k");
        var closed = Factory(fleet[0]).Create("closed", "k");

        for (var i = 0; i < 3; i++)
        {
            using var granted = await open.AcquireAsync();
            Assert.True(granted.IsAcquired);
            Assert.True(granted.TryGetMetadata(MetadataName.ReasonPhrase, out var reason));
            Assert.Equal(RedisRateLimiterFactory.RedisUnavailableOpen, reason);

            using var refused = await closed.AcquireAsync();
            Assert.False(refused.IsAcquired);
            Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
        }

        Assert.Equal((3L, 0L), (open.GetStatistics()!.TotalSuccessfulLeases, open.GetStatistics()!.TotalFailedLeases));
        Assert.Equal((0L, 3L), (closed.GetStatistics()!.TotalSuccessfulLeases, closed.GetStatistics()!.TotalFailedLeases));
    }

    [Fact]
    public async Task RedisOutage_LocalFallback_GrantsTheInstancesShareInMemory_ThenRefusesWithRetryAfter()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 4, Hour, ("FailureMode", "LocalFallback"));
        settings[$"{RateLimitTestApp.Section}:InstanceCount"] = "2";
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var limiter = Factory(fleet[0]).Create("api", "k");

        var leases = new List<RateLimitLease>();
        for (var i = 0; i < 4; i++)
        {
            leases.Add(await limiter.AcquireAsync());
        }

        Assert.Equal([true, true, false, false], leases.Select(l => l.IsAcquired));
        Assert.True(leases[2].TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
    }

    [Fact]
    public async Task RedisOutage_LocalFallbackConcurrency_HoldsTheSlotInMemoryUntilTheLeaseIsDisposed()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 2, extra: ("FailureMode", "LocalFallback"));
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var limiter = Factory(fleet[0]).Create("conc", "k");

        var first = await limiter.AcquireAsync();
        using var second = await limiter.AcquireAsync();
        Assert.True(first.IsAcquired && second.IsAcquired);
        using (var full = await limiter.AcquireAsync())
        {
            Assert.False(full.IsAcquired);
        }

        first.Dispose();
        first.Dispose();
        using var third = await limiter.AcquireAsync();
        Assert.True(third.IsAcquired);
        using var fourth = await limiter.AcquireAsync();
        Assert.False(fourth.IsAcquired);
    }

    [Fact]
    public async Task Create_UnknownPolicyThrowsNamingIt_EveryAlgorithmIncludingConcurrencyAndQueueIsALimiter()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("conc", RedisRateLimitAlgorithm.Concurrency, 1)
            .Policy("queue", RedisRateLimitAlgorithm.Gcra, 1, Hour, ("MaxQueueDelay", "00:00:01"));
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { });
        var factory = Factory(fleet[0]);

        Assert.Contains("'nope'", Assert.Throws<InvalidOperationException>(() => factory.Create("nope", "k")).Message, StringComparison.Ordinal);
        using var held = await factory.Create("conc", "k").AcquireAsync();
        Assert.True(held.IsAcquired);
        using var queued = await factory.CreatePartitioned<string>("queue", s => s).AcquireAsync("k");
        Assert.True(queued.IsAcquired);
    }
}
