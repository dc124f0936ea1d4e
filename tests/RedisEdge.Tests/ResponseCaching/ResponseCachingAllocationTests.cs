using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// Bytes allocated by a Redis hit beyond its body, counted (not timed) as the difference to a plain endpoint that writes
/// the same body, in the style of <c>RateLimitingAllocationTests</c>: the pipeline is driven in-process with a fresh
/// <see cref="DefaultHttpContext"/> per request, one at a time, against the real redis-server, and measured with
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/> (the script call completes on StackExchange.Redis' threads); each
/// figure is the lowest of several rounds. The test writes its figures to its output.
/// </summary>
public abstract class ResponseCachingAllocationTests(RedisTestServer redis, ITestOutputHelper output)
{
    public const string Name = "ResponseCachingAllocations";

    public const string ClusterName = "ResponseCachingAllocationsOnCluster";

    private const int Requests = 2000;
    private const int Rounds = 5;
    private static readonly string Body = new('x', 512);

    [Fact]
    public async Task ARedisHit_StaysWithinItsAllocationBudget()
    {
        await using var multiplexer = await redis.ConnectAsync();
        await using var app = BuildApp(multiplexer, nearCache: false);
        var requestDelegate = Pipeline(app);

        // Without a query, and with one: the query's keys are sorted into the variant on every hit.
        foreach (var path in new[] { "/cached/1", "/cached/1?b=2&A=1&b=3" })
        {
            Assert.Contains("stored", (await SendAsync(requestDelegate, app.Services, path)).CacheStatus, StringComparison.Ordinal);
            Assert.StartsWith("RedisEdge; hit", (await SendAsync(requestDelegate, app.Services, path)).CacheStatus, StringComparison.Ordinal);
        }

        var plain = await MeasureAsync(requestDelegate, app.Services, multiplexer, "/plain/1");
        foreach (var (path, budget) in new[] { ("/cached/1", RedisHitBudget), ("/cached/1?b=2&A=1&b=3", RedisHitWithQueryBudget) })
        {
            var hit = await MeasureAsync(requestDelegate, app.Services, multiplexer, path);

            // One lookup per hit (a heartbeat may add one or two).
            Assert.InRange(hit.RoundTrips, Requests, Requests + 2);
            var hitBytes = hit.BytesPerRequest - plain.BytesPerRequest;
            output.WriteLine($"Bytes per Redis hit of {path} over a plain request with the same body: {hitBytes:F0}.");
            Assert.True(hitBytes <= budget, $"A Redis hit of {path} allocated {hitBytes:F0} B more than a plain request (budget {budget:N0} B).");
        }
    }

    /// <summary>
    /// Concurrent hits of one key share one lookup (under load most Redis hits are such joiners). Redis is paused while
    /// each batch starts, so the first request's lookup is still in flight when the others arrive and every one of them
    /// joins it: the count of joins is exact, and so is what is measured (one lookup and its joiners per batch).
    /// </summary>
    [Fact]
    public async Task JoinedRedisHits_StayWithinTheirAllocationBudget()
    {
        await using var multiplexer = await redis.ConnectAsync();
        await using var app = BuildApp(multiplexer, nearCache: false);
        var requestDelegate = Pipeline(app);
        Assert.Contains("stored", (await SendAsync(requestDelegate, app.Services, "/cached/1")).CacheStatus, StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", (await SendAsync(requestDelegate, app.Services, "/cached/1")).CacheStatus, StringComparison.Ordinal);

        var lookups = app.Services.GetRequiredService<LookupCoalescer>();
        var plain = await MeasureBatchesAsync(requestDelegate, app.Services, multiplexer, "/plain/1");
        var joinedBefore = lookups.Joined;
        var hit = await MeasureBatchesAsync(requestDelegate, app.Services, multiplexer, "/cached/1");

        // Every request but the first of each batch joined its lookup; one lookup per batch (a heartbeat may add some).
        Assert.Equal((BatchRounds + 1) * Batches * (BatchSize - 1), lookups.Joined - joinedBefore);
        Assert.InRange(hit.RoundTrips, Batches, Batches + 2);
        var hitBytes = hit.BytesPerRequest - plain.BytesPerRequest;
        output.WriteLine($"Bytes per Redis hit in batches of {BatchSize} sharing one lookup over a plain request with the same body: {hitBytes:F0}.");
        Assert.True(hitBytes <= JoinedHitBudget, $"A shared Redis hit allocated {hitBytes:F0} B more than a plain request (budget {JoinedHitBudget:N0} B).");
    }

    [Fact]
    public async Task ANearCacheHit_StaysWithinItsAllocationBudget()
    {
        await using var multiplexer = await redis.ConnectAsync();
        await using var app = BuildApp(multiplexer, nearCache: true);

        // The near cache serves only while its invalidation subscription is verified live, which the started host does.
        await app.StartAsync();
        var near = app.Services.GetRequiredService<NearCache>();
        await CacheTestApp.EventuallyAsync(() => near.IsLive, "the near cache is live");
        var requestDelegate = Pipeline(app);

        Assert.Contains("stored", (await SendAsync(requestDelegate, app.Services, "/cached/1")).CacheStatus, StringComparison.Ordinal);

        // A Redis hit adds the entry to the near cache unless the fill's own invalidation message arrives after the hit's
        // lookup began (pub/sub is asynchronous); the next hit then adds it.
        var status = string.Empty;
        for (var i = 0; i < 50 && !status.EndsWith("; detail=near", StringComparison.Ordinal); i++)
        {
            status = (await SendAsync(requestDelegate, app.Services, "/cached/1")).CacheStatus;
        }

        Assert.EndsWith("; detail=near", status, StringComparison.Ordinal);

        var plain = await MeasureAsync(requestDelegate, app.Services, multiplexer, "/plain/1");
        var hit = await MeasureAsync(requestDelegate, app.Services, multiplexer, "/cached/1");

        // Served in process: no lookup at all (a heartbeat may add one or two commands).
        Assert.InRange(hit.RoundTrips, 0, 2);
        var hitBytes = hit.BytesPerRequest - plain.BytesPerRequest;
        output.WriteLine($"Bytes per near-cache hit over a plain request with the same body: {hitBytes:F0}.");
        Assert.True(hitBytes <= NearHitBudget, $"A near-cache hit allocated {hitBytes:F0} B more than a plain request (budget {NearHitBudget:N0} B).");
        await app.StopAsync();
    }

    /// <summary>
    /// Measured 5,698 B before the hit path stopped decoding headers per hit and building the variant key with
    /// StringBuilders; 4,488 B before an empty principal made per request, a second state machine and closures in the
    /// lookup, and strings made per lookup were removed; 3,456 B before lookup.lua answered one meta string instead of
    /// eleven replies (3,096 B), the request leading a shared lookup awaited it itself, <c>LookupResult</c> became a
    /// struct and a request without a query stopped making a query feature (about 2,850 B). What is left is mostly
    /// StackExchange.Redis' message, task and reply (about 800 B beyond the body's array, which this figure includes:
    /// 536 B), the script runner's state machine, call record and timeout (about 500 B), the key and the lease token:
    /// issue 20's target (about 1 KB beyond the body) is not met by a hit that sends its own lookup. The budget fails
    /// the 3,456 B. 2,616 B once the hit's <c>Cache-Status</c> value was kept for TTLs above 4,096 s too (this test's
    /// policy lives a day, so every hit formatted it) and the entry key came from the memo; the budget fails 2,856 B.
    /// </summary>
    private const int RedisHitBudget = 2_750;

    /// <summary>
    /// The same hit with a query of three values: its parsing (which the plain endpoint never asks for) is counted too.
    /// Measured 5,816 B while the variant's resource part was built with a StringBuilder and LINQ grouping and
    /// sorting per hit, 4,408 B once composed in pooled buffers, about 3,850 B after the changes above; the budget
    /// fails the 4,408 B.
    /// </summary>
    private const int RedisHitWithQueryBudget = 4_100;

    /// <summary>
    /// A near-cache hit serves the held entry (no Redis, no copy of the body): issue 20's budget of about 1 KB. Measured
    /// 472 B once the hit path stopped making an empty principal, the hash string and the status strings per request,
    /// 352-376 B once a request without a query stopped making a query feature and lookup.lua's key array was made only
    /// for a lookup (runs vary by up to about 80 B, so the budget keeps that much room and does not tell these apart),
    /// 16 B once the entry key came from the memo and the <c>Cache-Status</c> value with <c>detail=near</c> was kept
    /// instead of formatted per hit; the budget fails the 352 B.
    /// </summary>
    private const int NearHitBudget = 128;

    private const int Batches = 10;
    private const int BatchSize = 32;
    private const int BatchRounds = 2;

    /// <summary>
    /// Batches of 32 concurrent hits sharing one lookup, as most Redis hits under load are: the sender's costs spread
    /// over 32, and each joiner's own. Measured 1,119 B while every joiner made a lease token and a cancellable wait on
    /// the shared call, 747 B without them, 708 B once a joiner made no key array, 468 B once the entry key came from
    /// the memo and the <c>Cache-Status</c> value was kept; the budget fails the 708 B.
    /// </summary>
    private const int JoinedHitBudget = 600;

    private static WebApplication BuildApp(IConnectionMultiplexer multiplexer, bool nearCache)
    {
        var builder = TestHost.CreateBuilder();
        builder.Services.AddSingleton(multiplexer);
        builder.Services.AddRedisEdge(o => o.Redis.KeyPrefix = RedisServerFixture.UniquePrefix()).AddResponseCaching(o =>
        {
            o.Failure.Timeout = TimeSpan.FromSeconds(5);
            o.NearCache.Enabled = nearCache;
            o.AddPolicy("hot", p => p.Expire = TimeSpan.FromHours(1));
        });
        return builder.Build();
    }

    private static RequestDelegate Pipeline(WebApplication app)
    {
        var pipeline = new ApplicationBuilder(app.Services);
        pipeline.UseRouting();
        pipeline.UseRedisResponseCaching();
        pipeline.UseEndpoints(e =>
        {
            e.MapGet("/plain/{id}", (string id) => Results.Text(Body));
            e.MapGet("/cached/{id}", (string id) => Results.Text(Body)).CacheResponse("hot");
        });
        return pipeline.Build();
    }

    private static async Task<(double BytesPerRequest, long RoundTrips)> MeasureAsync(
        RequestDelegate pipeline, IServiceProvider services, ConnectionMultiplexer multiplexer, string path)
    {
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal(200, (await SendAsync(pipeline, services, path)).Status);
        }

        var best = double.MaxValue;
        long roundTrips = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var operations = multiplexer.GetCounters().Interactive.OperationCount;
            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < Requests; i++)
            {
                await SendAsync(pipeline, services, path);
            }

            best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Requests);
            roundTrips = multiplexer.GetCounters().Interactive.OperationCount - operations;
        }

        return (best, roundTrips);
    }

    /// <summary>
    /// Bytes per request of batches of <see cref="BatchSize"/> requests started together while every primary is paused
    /// for a moment (the pause is sent for the plain endpoint too, so its cost cancels out).
    /// </summary>
    private async Task<(double BytesPerRequest, long RoundTrips)> MeasureBatchesAsync(
        RequestDelegate pipeline, IServiceProvider services, ConnectionMultiplexer multiplexer, string path)
    {
        var best = double.MaxValue;
        long roundTrips = 0;
        var tasks = new Task<(int Status, string CacheStatus)>[BatchSize];
        for (var round = 0; round <= BatchRounds; round++)
        {
            var operations = multiplexer.GetCounters().Interactive.OperationCount;
            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var batch = 0; batch < Batches; batch++)
            {
                foreach (var primary in redis.Primaries)
                {
                    await primary.ExecuteAsync("CLIENT", "PAUSE", 20, "ALL");
                }

                for (var i = 0; i < tasks.Length; i++)
                {
                    tasks[i] = SendAsync(pipeline, services, path);
                }

                foreach (var task in tasks)
                {
                    Assert.Equal(200, (await task).Status);
                }
            }

            // Round 0 warms up.
            if (round > 0)
            {
                best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)(Batches * BatchSize));
                roundTrips = multiplexer.GetCounters().Interactive.OperationCount - operations;
            }
        }

        return (best, roundTrips);
    }

    private static async Task<(int Status, string CacheStatus)> SendAsync(RequestDelegate pipeline, IServiceProvider services, string path)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = HttpMethods.Get;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("localhost");
        var query = path.IndexOf('?', StringComparison.Ordinal);
        context.Request.Path = query < 0 ? path : path[..query];
        context.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(path[query..]);
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Response.Body = Stream.Null;

        // A token that can be cancelled, as Kestrel gives every request: whatever registers on it is counted.
        using var aborted = new CancellationTokenSource();
        context.RequestAborted = aborted.Token;
        await pipeline(context);
        return (context.Response.StatusCode, context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader].ToString());
    }
}

/// <summary>The same measurements on one <c>redis-server</c>.</summary>
[Collection(Name)]
public sealed class ResponseCachingAllocationTestsOnSingleNode(RedisServerFixture redis, ITestOutputHelper output)
    : ResponseCachingAllocationTests(redis, output);

/// <summary>
/// The same measurements on a six-node cluster, where the client also routes each lookup by its key's slot: a hit costs
/// the same there.
/// </summary>
[Collection(ClusterName)]
public sealed class ResponseCachingAllocationTestsOnCluster(RedisClusterFixture redis, ITestOutputHelper output)
    : ResponseCachingAllocationTests(redis, output);

/// <summary>Allocation counts need a process in which no other test runs at the same time.</summary>
[CollectionDefinition(ResponseCachingAllocationTests.Name, DisableParallelization = true)]
public sealed class ResponseCachingAllocationCollection : ICollectionFixture<RedisServerFixture>;

/// <summary>The cluster's own collection (a collection has one fixture of a type), also run alone.</summary>
[CollectionDefinition(ResponseCachingAllocationTests.ClusterName, DisableParallelization = true)]
public sealed class ResponseCachingAllocationClusterCollection : ICollectionFixture<RedisClusterFixture>;
