using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// <c>AddRateLimiter(o =&gt; o.AddRedisEdgePolicy("api"))</c>: ASP.NET Core's own <c>UseRateLimiter()</c> enforcing a
/// fleet-wide RedisEdge policy, with the first-party <c>OnRejected</c>, and next to <c>UseRedisRateLimiting()</c>.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingFirstPartyMiddlewareTests(RedisServerFixture redis)
{
    private const string RefusedBody = "refused by the first-party middleware";
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>Only the first-party middleware: no <c>UseRedisRateLimiting()</c> in the pipeline.</summary>
    private static readonly FeatureTestApp FirstPartyOnly = new(RateLimitTestApp.Section, edge => edge.AddRateLimiting(), app => app.UseRateLimiter());

    [Fact]
    public async Task ThreeInstancesBy64Callers_UseRateLimiter_ExactlyThePermitLimitPerPartitionPasses_RestGetTheFirstPartyOnRejectedWithRetryAfter()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 25, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"));
        var onRejected = new Rejections();
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) => app.MapGet("/api", () => "ok").RequireRateLimiting("api"),
            instances: 3,
            services: (builder, _) => builder.Services.AddRateLimiter(o => onRejected.Configure(o.AddRedisEdgePolicy("api"))));

        // 3 instances x 64 concurrent callers, half with each API key: the policy partitions by the header.
        var responses = await Task.WhenAll(Enumerable.Range(0, 3 * 64).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api");
            request.Headers.Add("X-Api-Key", i % 2 == 0 ? "key-a" : "key-b");
            var response = await fleet[i % 3].Client.SendAsync(request);
            return (Key: i % 2, response.StatusCode, Body: await response.Content.ReadAsStringAsync(), RetryAfter: response.Headers.RetryAfter?.Delta);
        }));

        Assert.Equal(25, responses.Count(r => r.Key == 0 && r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(25, responses.Count(r => r.Key == 1 && r.StatusCode == HttpStatusCode.OK));
        var refused = responses.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Equal(3 * 64 - 50, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Equal(RefusedBody, r.Body);
            Assert.True(r.RetryAfter > TimeSpan.Zero, "Retry-After comes from the lease's RetryAfter metadata");
        });
        Assert.Equal(refused.Count, onRejected.Count);

        // The counters hold exactly what was admitted, in the keys UseRedisRateLimiting() would use.
        Assert.Equal(50, await SumCountersAsync(fleet.KeyPrefix));
    }

    [Fact]
    public async Task BothMiddlewaresInOneApp_StartUp_AndEachRequestIsOneScriptCall_InTheCounterRedisEdgesOwnAttributeUses()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 3, Hour)
            .Policy("other", RedisRateLimitAlgorithm.FixedWindow, 100, Hour);
        var onRejected = new Rejections();
        await using var fleet = await RateLimitTestApp.StartAsync(
            redis,
            settings,
            (app, _) =>
            {
                app.MapGet("/first-party", () => "ok").RequireRateLimiting("api");
                app.MapGet("/redisedge", () => "ok").RequireRateLimit("api");
                app.MapGet("/group/first-party", () => "ok").RequireRateLimit("other").RequireRateLimiting("api");
            },
            services: (builder, _) => builder.Services.AddRateLimiter(o => onRejected.Configure(o.AddRedisEdgePolicy("api"))),
            beforeRateLimiting: (app, _) => app.UseRateLimiter());
        var client = fleet[0].Client;

        var statuses = new List<HttpStatusCode>();
        var scriptCalls = new List<int>();
        foreach (var path in new[] { "/first-party", "/redisedge", "/first-party", "/first-party", "/redisedge" })
        {
            using var scope = fleet[0].Commands.Begin();
            var response = await client.GetAsync(path);
            statuses.Add(response.StatusCode);
            Assert.All(scope.Commands, c => Assert.Equal("EVAL", c));
            scriptCalls.Add(scope.Commands.Count);
            if (path == "/first-party")
            {
                // UseRedisRateLimiting() left the request to the first-party middleware: none of its headers.
                Assert.False(response.Headers.Contains(RedisRateLimitingDefaults.RateLimitPolicyHeader));
            }
        }

        // One counter: the first-party middleware and RedisEdge's own [RateLimit("api")] charge the same partition.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);

        // One script call per request whichever middleware decides, never one each; the last is refused by the local
        // deny cache the first-party refusal filled, which both middlewares share.
        Assert.Equal([1, 1, 1, 1, 0], scriptCalls);
        Assert.Equal(1, onRejected.Count);
        Assert.Equal(3, await SumCountersAsync(fleet.KeyPrefix, "api"));

        // The most specific [EnableRateLimiting] replaces the less specific [RateLimit("other")]: nothing charges "other".
        using (var scope = fleet[0].Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/group/first-party")).StatusCode);
            Assert.Empty(scope.Commands);
        }

        Assert.Equal(0, await SumCountersAsync(fleet.KeyPrefix, "other"));
    }

    [Fact]
    public async Task ConcurrencyPolicy_ThreeInstancesBy64Callers_AtMostThePermitLimitRunAtOnce_TheRestGetOnRejected_TheLeaseEndsWithTheRequest()
    {
        const int limit = 4;
        const int callers = 3 * 64;
        var settings = new Dictionary<string, string?>().Policy("c", RedisRateLimitAlgorithm.Concurrency, limit);
        var work = new BlockingEndpoint();
        var onRejected = new Rejections();
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) => app.MapGet("/work", work.HandleAsync).RequireRateLimiting("c"),
            instances: 3,
            services: (builder, _) => builder.Services.AddRateLimiter(o => onRejected.Configure(o.AddRedisEdgePolicy("c"))));

        // No queue: while `limit` requests run, every other one is refused at once through the first-party OnRejected.
        var requests = Enumerable.Range(0, callers).Select(i => fleet[i % 3].Client.GetAsync("/work")).ToList();
        Assert.True(await UntilAsync(() => Task.FromResult(requests.Count(r => r.IsCompleted) == callers - limit && work.Running == limit)), "The requests were not all decided.");
        Assert.Equal(limit, await LeasesHeldAsync(fleet.KeyPrefix));
        Assert.Equal(callers - limit, onRejected.Count);

        work.Release();
        var responses = await Task.WhenAll(requests);
        Assert.Equal(limit, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = responses.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Equal(callers - limit, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), r.Headers.RetryAfter?.Delta);   // a concurrency refusal: at most 1 s
        });
        Assert.Equal(limit, work.MaxRunning);
        Assert.Equal(limit, work.Started);

        // The first-party middleware disposed each lease when its request ended: Redis holds none, and the slots serve again.
        Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet.KeyPrefix) == 0), "A lease was left in Redis.");
        var again = await Task.WhenAll(Enumerable.Range(0, limit).Select(i => fleet[i % 3].Client.GetAsync("/work")));
        Assert.All(again, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet.KeyPrefix) == 0), "A lease was left in Redis.");
    }

    [Fact]
    public async Task ConcurrencyPolicy_TheLeaseIsReleasedWhenTheHandlerThrows_AndWhenTheClientAborts()
    {
        var settings = new Dictionary<string, string?>().Policy("c", RedisRateLimitAlgorithm.Concurrency, 1);
        var work = new BlockingEndpoint();
        var throws = 0;
        var onRejected = new Rejections();
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) =>
            {
                app.MapGet("/work", work.HandleAsync).RequireRateLimiting("c");
                app.MapGet("/throw", string () =>
                {
                    Interlocked.Increment(ref throws);
                    throw new InvalidOperationException("the handler failed");
                }).RequireRateLimiting("c");
            },
            instances: 2,
            services: (builder, _) => builder.Services.AddRateLimiter(o => onRejected.Configure(o.AddRedisEdgePolicy("c"))));

        // A handler that throws: its lease is released, so each next request (from either instance) runs.
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => fleet[i % 2].Client.GetAsync("/throw"));
            Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet.KeyPrefix) == 0), "A throwing request kept its lease.");
        }

        Assert.Equal(3, throws);
        Assert.Equal(0, onRejected.Count);

        // A client that gives up while the handler runs: the request ends, and its lease with it.
        work.Block();
        using var abort = new CancellationTokenSource();
        var aborted = fleet[0].Client.GetAsync("/work", abort.Token);
        Assert.True(await UntilAsync(() => Task.FromResult(work.Running == 1)), "The request never ran.");
        Assert.Equal(1, await LeasesHeldAsync(fleet.KeyPrefix));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await fleet[1].Client.GetAsync("/work")).StatusCode);

        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => aborted);
        Assert.True(await UntilAsync(async () => work.Running == 0 && await LeasesHeldAsync(fleet.KeyPrefix) == 0), "The aborted request kept its lease.");

        work.Release();
        Assert.Equal(HttpStatusCode.OK, (await fleet[1].Client.GetAsync("/work")).StatusCode);
        Assert.Equal(1, onRejected.Count);
        Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet.KeyPrefix) == 0), "A lease was left in Redis.");
    }

    [Fact]
    public async Task AddRedisEdgePolicy_OfAnUndefinedPolicy_FailsStartUp_NamingTheConfigurationPath()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var fleet = await FirstPartyOnly.StartAsync(
                redis.Configuration,
                settings,
                (app, _) => app.MapGet("/api", () => "ok").RequireRateLimiting("apii"),
                services: (builder, _) => builder.Services.AddRateLimiter(o => o.AddRedisEdgePolicy("apii")));
        });

        Assert.Contains("AddRedisEdgePolicy(\"apii\")", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:apii", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedisOutage_FailClosedPolicy_IsRejectedThroughOnRejected_FailOpenPolicyPasses()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("closed", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailClosed"))
            .Policy("open", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        settings["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200,connectRetry=0";
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        var onRejected = new Rejections();
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) =>
            {
                app.MapGet("/closed", () => "ok").RequireRateLimiting("closed");
                app.MapGet("/open", () => "ok").RequireRateLimiting("open");
            },
            services: (builder, _) => builder.Services.AddRateLimiter(o => onRejected.Configure(o.AddRedisEdgePolicy("closed").AddRedisEdgePolicy("open"))));
        var client = fleet[0].Client;

        for (var i = 0; i < 3; i++)
        {
            var closed = await client.GetAsync("/closed");
            Assert.Equal(HttpStatusCode.TooManyRequests, closed.StatusCode);
            Assert.Equal(RefusedBody, await closed.Content.ReadAsStringAsync());
            Assert.True(closed.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/open")).StatusCode);
        }

        Assert.Equal(3, onRejected.Count);
        Assert.Equal(RedisEdge.RateLimiting.Internal.RedisRateLimiterFactory.RedisUnavailableClosed, onRejected.LastReason);
    }

    [Fact]
    public async Task AllowListedValue_IsNotLimited_DenyListedValue_IsRefusedThroughOnRejected_WithoutRedis()
    {
        var settings = new Dictionary<string, string?>().Policy(
            "api", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"), ("AllowList:0", "vip"), ("DenyList:0", "banned"));
        var onRejected = new Rejections();
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) => app.MapGet("/api", () => "ok").RequireRateLimiting("api"),
            services: (builder, _) => builder.Services.AddRateLimiter(o => onRejected.Configure(o.AddRedisEdgePolicy("api"))));

        using var scope = fleet[0].Commands.Begin();
        var statuses = new List<(string Key, HttpStatusCode Status, TimeSpan? RetryAfter)>();
        foreach (var key in new[] { "vip", "vip", "vip", "banned", "banned" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api");
            request.Headers.Add("X-Api-Key", key);
            var response = await fleet[0].Client.SendAsync(request);
            statuses.Add((key, response.StatusCode, response.Headers.RetryAfter?.Delta));
        }

        Assert.Equal(
            [("vip", HttpStatusCode.OK, null), ("vip", HttpStatusCode.OK, null), ("vip", HttpStatusCode.OK, null), ("banned", HttpStatusCode.TooManyRequests, null), ("banned", HttpStatusCode.TooManyRequests, null)],
            statuses);
        Assert.Empty(scope.Commands);
        Assert.Equal(2, onRejected.Count);
        Assert.Contains("DenyList", onRejected.LastReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PartitionLimiter_HoldsOnlyStatistics_AndReportsItsIdleTime_SoTheFirstPartyCacheDropsIt()
    {
        var time = new ManualTimeProvider();
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"));
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) => app.MapGet("/api", () => "ok").RequireRateLimiting("api"),
            services: (builder, _) =>
            {
                builder.Services.AddSingleton<TimeProvider>(time);
                builder.Services.AddRateLimiter(o => o.AddRedisEdgePolicy("api"));
            });
        var options = fleet[0].Services.GetRequiredService<IOptions<RateLimiterOptions>>().Value;
        var policy = RedisEdge.RateLimiting.Internal.RedisEdgeRateLimiterPolicy.Of(options)["api"];
        var context = new DefaultHttpContext { RequestServices = fleet[0].Services };
        context.Request.Headers["X-Api-Key"] = "k";

        var partition = policy.GetPartition(context);
        Assert.Equal(partition.PartitionKey, policy.GetPartition(context).PartitionKey);
        using var limiter = partition.Factory(partition.PartitionKey);
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(TimeSpan.FromSeconds(11), limiter.IdleDuration);

        using (var undecided = limiter.AttemptAcquire())
        {
            Assert.False(undecided.IsAcquired);
        }

        using (var lease = await limiter.AcquireAsync())
        {
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal(TimeSpan.Zero, limiter.IdleDuration);
        var statistics = limiter.GetStatistics()!;
        Assert.Equal((4L, 1L, 0L), (statistics.CurrentAvailablePermits, statistics.TotalSuccessfulLeases, statistics.TotalFailedLeases));
    }

    [Fact]
    public async Task AddRedisEdgePolicy_WithoutAddRateLimiting_FailsStartUp_NamingWhatIsMissingAndEachPolicy()
    {
        var builder = TestHost.CreateBuilder(new Dictionary<string, string?>());
        builder.Services.AddRateLimiter(o => o.AddRedisEdgePolicy("api").AddRedisEdgePolicy("partner"));
        await using var app = builder.Build();
        app.UseRateLimiter();
        app.MapGet("/api", () => "ok").RequireRateLimiting("api");

        // Bad configuration fails at start-up, before any request could reach the endpoint (it used to fail each request).
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.Contains("AddRedisEdge().AddRateLimiting()", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"api\", \"partner\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisEdgePolicy_AddsItsServicesCheckOnce_AndTheCheckLimitsNothing()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("api", RedisRateLimitAlgorithm.FixedWindow, 1, Hour)
            .Policy("api-2", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            settings,
            (app, _) => app.MapGet("/checked", () => "ok").RequireRateLimiting(RedisEdgeServicesCheckPolicy.Name),
            instances: 1,
            // Two RedisEdge policies, one check: a second check under the same name would throw at AddPolicy.
            services: (builder, _) => builder.Services.AddRateLimiter(o => o.AddRedisEdgePolicy("api").AddRedisEdgePolicy("api-2")));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/checked")).StatusCode);
        }
    }

    [Fact]
    public async Task ReloadDroppingAPolicyAnEndpointAppliesThroughAddRedisEdgePolicy_IsRefused_TheLimitStays()
    {
        var removed = false;
        await using var fleet = await FirstPartyOnly.StartAsync(
            redis.Configuration,
            new Dictionary<string, string?>(),
            (app, _) => app.MapGet("/x", () => "ok").RequireRateLimiting("api"),
            services: (builder, _) =>
            {
                builder.Services.AddRateLimiter(o => o.AddRedisEdgePolicy("api"));
                builder.Services.Configure<RedisRateLimitingOptions>(o =>
                {
                    if (!Volatile.Read(ref removed))
                    {
                        o.AddPolicy("api", p => { p.PermitLimit = 2; p.Window = Hour; p.Partition = RedisRateLimitPartitionKind.Global; });
                    }
                });
            });
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/x")).StatusCode);

        Volatile.Write(ref removed, true);
        ((IConfigurationRoot)fleet[0].Services.GetRequiredService<IConfiguration>()).Reload();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await fleet[0].Client.GetAsync("/x")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable], statuses);
    }

    /// <summary>The members of the fleet's concurrency lease sets: the requests holding a slot in Redis.</summary>
    private async Task<long> LeasesHeldAsync(string prefix)
    {
        long held = 0;
        foreach (var key in await redis.KeysAsync(prefix + ":rl:"))
        {
            held += await redis.Database.SortedSetLengthAsync(key);
        }

        return held;
    }

    /// <summary>Polls a state (a release lands after the lease is disposed); false if it never holds within 15 s.</summary>
    private static async Task<bool> UntilAsync(Func<Task<bool>> condition)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    /// <summary>The permits the fixed-window counters of <paramref name="policy"/> hold, over every partition of the fleet.</summary>
    private async Task<long> SumCountersAsync(string prefix, string policy = "api")
    {
        var server = redis.Admin.GetServer(redis.Admin.GetEndPoints()[0]);
        long sum = 0;
        await foreach (var key in server.KeysAsync(pattern: $"{prefix}*:{policy}:fw"))
        {
            sum += (long)await redis.Admin.GetDatabase().HashGetAsync(key, "c");
        }

        return sum;
    }

    /// <summary>
    /// An endpoint that, blocked (as it starts), holds each request until <see cref="Release"/> or until the client
    /// aborts, and counts how many run at once.
    /// </summary>
    private sealed class BlockingEndpoint
    {
        private TaskCompletionSource? _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _running;
        private int _maxRunning;
        private int _started;

        public int Running => Volatile.Read(ref _running);

        public int MaxRunning => Volatile.Read(ref _maxRunning);

        public int Started => Volatile.Read(ref _started);

        public void Block() => Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void Release() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

        public async Task HandleAsync(HttpContext context)
        {
            Interlocked.Increment(ref _started);
            var now = Interlocked.Increment(ref _running);
            var seen = Volatile.Read(ref _maxRunning);
            while (now > seen && Interlocked.CompareExchange(ref _maxRunning, now, seen) is var was && was != seen)
            {
                seen = was;
            }

            try
            {
                if (Volatile.Read(ref _gate) is { } gate)
                {
                    await gate.Task.WaitAsync(context.RequestAborted);
                }
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }

            await context.Response.WriteAsync("done", context.RequestAborted);
        }
    }

    /// <summary>The first-party rejection the tests look for: status 429, a body, Retry-After from the lease.</summary>
    private sealed class Rejections
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public string? LastReason { get; private set; }

        public void Configure(RateLimiterOptions options)
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref _count);
                LastReason = context.Lease.TryGetMetadata(MetadataName.ReasonPhrase, out var reason) ? reason : null;
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                {
                    context.HttpContext.Response.Headers.RetryAfter = Math.Ceiling(retry.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                }

                await context.HttpContext.Response.WriteAsync(RefusedBody, cancellationToken);
            };
        }
    }
}
