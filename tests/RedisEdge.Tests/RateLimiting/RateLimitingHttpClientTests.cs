using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.RateLimiting;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// <c>AddRedisEdgeRateLimiter</c>: a fleet-wide quota on the calls a named HttpClient sends, counted at a stand-in
/// partner (its own TestServer, reached through the client's primary handler as an app's tests would reach it).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RateLimitingHttpClientTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    public async Task ThreeInstancesTimes64Callers_ExactlyTheLimitReachesThePartner_RestThrowRejectedWithRetryAfter(RedisRateLimitAlgorithm algorithm)
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>().Policy("partner", algorithm, 10, Hour, ("TokensPerPeriod", "1"));
        await using var fleet = await StartAsync(settings, partner, client => client.AddRedisEdgeRateLimiter("partner"), instances: 3);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 3 * 64).Select(i => CallAsync(fleet[i % 3], "http://partner.test/quote")));

        Assert.Equal(10, partner.Calls("partner.test"));
        Assert.Equal(10, outcomes.Count(o => o is null));
        var refusals = outcomes.OfType<RateLimiterRejectedException>().ToList();
        Assert.Equal(182, refusals.Count);
        Assert.All(refusals, r =>
        {
            Assert.True(r.RetryAfter > TimeSpan.Zero);
            Assert.Contains("'partner'", r.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task InAResiliencePipeline_TheFactorysLimiterHoldsTheFleetWideLimit_RefusalsAreTheSameExceptionWithRetryAfter()
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>().Policy("partner", RedisRateLimitAlgorithm.FixedWindow, 10, Hour);

        // The alternative docs/rate-limiting.md shows: the factory's limiter as the resilience pipeline's rate limiter.
        await using var fleet = await StartAsync(settings, partner, client => client.AddResilienceHandler("partner-quota", (pipeline, context) =>
        {
            var limiter = context.ServiceProvider.GetRequiredService<IRedisRateLimiterFactory>()
                .CreatePartitioned<HttpRequestMessage>("partner", request => request.RequestUri!.IdnHost);
            pipeline.AddRateLimiter(new HttpRateLimiterStrategyOptions
            {
                RateLimiter = args => limiter.AcquireAsync(args.Context.GetRequestMessage()!, 1, args.Context.CancellationToken),
            });
        }), instances: 3);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 3 * 64).Select(i => CallAsync(fleet[i % 3], "http://partner.test/quote")));

        Assert.Equal(10, partner.Calls("partner.test"));
        Assert.Equal(10, outcomes.Count(o => o is null));
        var refusals = outcomes.OfType<RateLimiterRejectedException>().ToList();
        Assert.Equal(182, refusals.Count);
        Assert.All(refusals, r => Assert.True(r.RetryAfter > TimeSpan.Zero));
    }

    [Fact]
    public async Task ByDefault_EachHostHasItsOwnQuota_AGlobalPolicySharesOneAcrossHosts()
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>()
            .Policy("per-host", RedisRateLimitAlgorithm.FixedWindow, 3, Hour)
            .Policy("shared", RedisRateLimitAlgorithm.FixedWindow, 3, Hour);
        settings.Remove($"{RateLimitTestApp.Section}:Policies:per-host:Partition");   // left out, as in appsettings: not Global
        await using var fleet = await StartAsync(settings, partner, client => client.AddRedisEdgeRateLimiter("per-host"), instances: 2,
            more: services => services.AddHttpClient("shared").AddRedisEdgeRateLimiter("shared").ConfigurePrimaryHttpMessageHandler(partner.Handler));

        var perHost = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            CallAsync(fleet[i % 2], i % 4 < 2 ? "http://a.partner.test/quote" : "http://B.Partner.test/quote")));

        Assert.Equal(3, partner.Calls("a.partner.test"));
        Assert.Equal(3, partner.Calls("b.partner.test"));
        Assert.Equal(6, perHost.Count(o => o is null));

        var shared = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            CallAsync(fleet[i % 2], i % 2 == 0 ? "http://c.partner.test/quote" : "http://d.partner.test/quote", "shared")));

        Assert.Equal(3, shared.Count(o => o is null));
        Assert.Equal(3, partner.Calls("c.partner.test") + partner.Calls("d.partner.test"));
    }

    [Fact]
    public async Task CustomKey_EachTenantHasItsOwnQuotaOnOneHost()
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>().Policy("tenant", RedisRateLimitAlgorithm.SlidingWindowLog, 2, Hour, ("Partition", "Header"), ("PartitionName", "X-Tenant"));
        await using var fleet = await StartAsync(settings, partner,
            client => client.AddRedisEdgeRateLimiter("tenant", request => request.Headers.GetValues("X-Tenant").Single()), instances: 3);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            CallAsync(fleet[i % 3], "http://partner.test/quote", tenant: (i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture))));

        Assert.Equal(6, partner.Calls("partner.test"));
        Assert.Equal(6, outcomes.Count(o => o is null));
        Assert.Equal(54, outcomes.OfType<RateLimiterRejectedException>().Count());
    }

    [Fact]
    public async Task TypedClient_IsLimitedLikeANamedOne()
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>().Policy("partner", RedisRateLimitAlgorithm.FixedWindow, 2, Hour);
        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances: 2, services: (builder, _) =>
            builder.Services.AddHttpClient<QuoteClient>(c => c.BaseAddress = new Uri("http://typed.test"))
                .AddRedisEdgeRateLimiter("partner")
                .ConfigurePrimaryHttpMessageHandler(partner.Handler));

        var outcomes = new List<bool>();
        for (var i = 0; i < 6; i++)
        {
            using var scope = fleet[i % 2].Services.CreateScope();
            outcomes.Add(await scope.ServiceProvider.GetRequiredService<QuoteClient>().TryGetAsync());
        }

        Assert.Equal([true, true, false, false, false, false], outcomes);
        Assert.Equal(2, partner.Calls("typed.test"));
    }

    [Fact]
    public async Task RedisOutage_FailClosedRefusesWithRetryAfterBeforeThePartner_FailOpenLetsTheCallsThrough()
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>()
            .Policy("closed", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailClosed"))
            .Policy("open", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("FailureMode", "FailOpen"));
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.200";
        await using var fleet = await RateLimitTestApp.StartAsync("127.0.0.1:1,connectTimeout=200,connectRetry=0", settings, (_, _) => { }, services: (builder, _) =>
        {
            builder.Services.AddHttpClient("partner").AddRedisEdgeRateLimiter("closed").ConfigurePrimaryHttpMessageHandler(partner.Handler);
            builder.Services.AddHttpClient("open").AddRedisEdgeRateLimiter("open").ConfigurePrimaryHttpMessageHandler(partner.Handler);
        });

        for (var i = 0; i < 3; i++)
        {
            var refused = Assert.IsType<RateLimiterRejectedException>(await CallAsync(fleet[0], "http://closed.test/quote"));
            Assert.True(refused.RetryAfter > TimeSpan.Zero);
            Assert.Contains(RedisRateLimiterFactory.RedisUnavailableClosed, refused.Message, StringComparison.Ordinal);
            Assert.Null(await CallAsync(fleet[0], "http://open.test/quote", "open"));
        }

        Assert.Equal(0, partner.Calls("closed.test"));
        Assert.Equal(3, partner.Calls("open.test"));
    }

    [Fact]
    public async Task ConcurrencyPolicy_ThreeInstancesTimes64Callers_ThePartnerNeverHoldsMoreThanTheLimit_TheRestAreRefusedWithRetryAfter_ThenAllAreServed_NoLeaseIsLeft()
    {
        const int limit = 4;
        const int callers = 3 * 64;
        await using var partner = await Partner.StartAsync();
        partner.Block();
        var settings = new Dictionary<string, string?>().Policy("partner", RedisRateLimitAlgorithm.Concurrency, limit);
        await using var fleet = await StartAsync(settings, partner, client => client.AddRedisEdgeRateLimiter("partner"), instances: 3);

        // A concurrency policy has no queue: while the partner holds `limit` calls, every other caller is refused at once.
        var calls = Enumerable.Range(0, callers).Select(i => CallAsync(fleet[i % 3], "http://partner.test/quote")).ToList();
        Assert.True(await UntilAsync(() => Task.FromResult(calls.Count(c => c.IsCompleted) == callers - limit && partner.InFlight == limit)), "The callers were not all decided.");
        Assert.Equal(limit, await LeasesHeldAsync(fleet));
        var refusals = calls.Where(c => c.IsCompleted).Select(c => Assert.IsType<RateLimiterRejectedException>(c.Result)).ToList();
        Assert.All(refusals, r => Assert.InRange(r.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1)));

        partner.Release();
        var outcomes = await Task.WhenAll(calls);
        Assert.Equal(limit, outcomes.Count(o => o is null));
        Assert.Equal(limit, partner.Calls("partner.test"));

        // Each refused caller tries again until served: every call completes, never more than `limit` at the partner.
        var retries = 0;
        await Task.WhenAll(Enumerable.Range(0, callers - limit).Select(async c =>
        {
            for (var attempt = 0; attempt < 2_000; attempt++)
            {
                if (await CallAsync(fleet[c % 3], "http://partner.test/quote") is not RateLimiterRejectedException)
                {
                    return;
                }

                Interlocked.Increment(ref retries);
                await Task.Delay(Random.Shared.Next(1, 20));
            }

            Assert.Fail("A caller was never served.");
        }));

        Assert.Equal(callers, partner.Calls("partner.test"));
        Assert.Equal(limit, partner.MaxInFlight);

        // Every lease was disposed when its response arrived: once the releases land, Redis holds none.
        Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet) == 0), "A lease was left in Redis.");
    }

    [Fact]
    public async Task ConcurrencyPolicy_ACallCancelledWhileThePartnerHoldsIt_ThrowsAndReleasesItsSlot()
    {
        await using var partner = await Partner.StartAsync();
        partner.Block();
        var settings = new Dictionary<string, string?>().Policy("partner", RedisRateLimitAlgorithm.Concurrency, 1);
        await using var fleet = await StartAsync(settings, partner, client => client.AddRedisEdgeRateLimiter("partner"), instances: 2);

        using var giveUp = new CancellationTokenSource();
        var held = CallAsync(fleet[0], "http://partner.test/quote", cancellationToken: giveUp.Token);
        Assert.True(await UntilAsync(() => Task.FromResult(partner.InFlight == 1)), "The call never reached the partner.");
        Assert.Equal(1, await LeasesHeldAsync(fleet));
        Assert.IsType<RateLimiterRejectedException>(await CallAsync(fleet[1], "http://partner.test/quote"));

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);

        // The slot came back: Redis holds no lease, and the other instance's next call reaches the partner.
        Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet) == 0), "The cancelled call kept its lease.");
        var next = CallAsync(fleet[1], "http://partner.test/quote");
        Assert.True(await UntilAsync(() => Task.FromResult(partner.InFlight == 1 && partner.Calls("partner.test") == 2)), "The freed slot was not granted.");
        partner.Release();
        Assert.Null(await next);
        Assert.True(await UntilAsync(async () => await LeasesHeldAsync(fleet) == 0), "A lease was left in Redis.");
    }

    [Fact]
    public async Task GcraQueuePolicy_ThreeInstancesTimes64Callers_TheCallsWithinMaxQueueDelayAreDelayedNotRefused_OnePerInterval_TheRestThrowWithRetryAfter()
    {
        // One call per hour with a burst of one, at most 10.5 hours in the queue: the first call goes at once, the next
        // ten wait 1..10 hours, the rest would wait longer and are refused. The waits run on the test's clock.
        const int queued = 10;
        const int callers = 3 * 64;
        var clock = new ManualTimerProvider();
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>()
            .Policy("partner", RedisRateLimitAlgorithm.Gcra, 1, Hour, ("Burst", "1"), ("MaxQueueDelay", "10:30:00"));
        await using var fleet = await StartAsync(settings, partner, client => client.AddRedisEdgeRateLimiter("partner"), instances: 3,
            more: services => services.AddSingleton<TimeProvider>(clock));
        var delays = fleet.Instances.Select(i => new MeasurementRecorder<double>(
            i.Services.GetRequiredService<RateLimitingMetrics>().Telemetry.Meter, RedisRateLimitingDefaults.QueueDelayInstrument)).ToList();

        var calls = Enumerable.Range(0, callers).Select(i => CallAsync(fleet[i % 3], "http://partner.test/quote")).ToList();
        Assert.True(await UntilAsync(() => Task.FromResult(
            calls.Count(c => c.IsCompleted) == callers - queued && delays.Sum(d => d.Measurements.Count) == 1 + queued)), "The callers were not all decided.");

        // Decided at once: the call that had no wait went, and every call beyond MaxQueueDelay threw.
        var decided = calls.Where(c => c.IsCompleted).Select(c => c.Result).ToList();
        Assert.Single(decided, o => o is null);
        var refusals = decided.OfType<RateLimiterRejectedException>().ToList();
        Assert.Equal(callers - 1 - queued, refusals.Count);
        Assert.All(refusals, r => Assert.InRange(r.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), Hour));

        // The delays the script computed, on the Redis clock: k intervals for the k-th queued call, less the time its
        // decision came after the first one's.
        var waits = delays.SelectMany(d => d.Measurements).Select(m => TimeSpan.FromSeconds(m.Value)).Order().ToList();
        for (var k = 0; k <= queued; k++)
        {
            Assert.InRange(waits[k], k * Hour - TimeSpan.FromMinutes(5), k * Hour);
        }

        // Delayed, not refused: each interval lets exactly one more call reach the partner, in the queue's order.
        Assert.True(await UntilAsync(() => Task.FromResult(partner.Calls("partner.test") == 1)), "The first call did not go at once.");
        for (var k = 1; k <= queued; k++)
        {
            clock.Advance(Hour);
            Assert.True(await UntilAsync(() => Task.FromResult(partner.Calls("partner.test") >= 1 + k)), $"The call queued {k} hours did not go.");
            Assert.Equal(1 + k, partner.Calls("partner.test"));
        }

        var outcomes = await Task.WhenAll(calls);
        Assert.Equal(1 + queued, outcomes.Count(o => o is null));
        Assert.Equal(callers - 1 - queued, outcomes.OfType<RateLimiterRejectedException>().Count());
        Assert.Equal(1 + queued, partner.Calls("partner.test"));
        delays.ForEach(d => d.Dispose());
    }

    [Fact]
    public async Task UndefinedPolicy_FailsStartUpNamingTheConfigurationPath()
    {
        await using var partner = await Partner.StartAsync();
        var settings = new Dictionary<string, string?>().Policy("partner", RedisRateLimitAlgorithm.FixedWindow, 1, Hour);

        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var fleet = await StartAsync(settings, partner, client => client.AddRedisEdgeRateLimiter("partnr"));
        });

        Assert.Contains("RedisEdge:RateLimiting:Policies:partnr is not defined, but the HttpClient 'partner' is limited by it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutAddRateLimiting_CreatingTheClientThrowsSayingWhatToCall()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("partner").AddRedisEdgeRateLimiter("partner");
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("partner"));
        Assert.Contains("AddRedisEdge().AddRateLimiting()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAddRateLimiting_TheHostFailsToStart_NamingEveryLimitedClient()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddHttpClient("partner").AddRedisEdgeRateLimiter("partner");
        builder.Services.AddHttpClient("billing").AddRedisEdgeRateLimiter("billing");
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
        Assert.Contains("'partner'", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddRedisEdge().AddRateLimiting()", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.Services.GetServices<IHostedService>().OfType<HttpClientLimiterStartupCheck>().Count());
    }

    [Fact]
    public async Task Handler_HoldsTheLeaseUntilTheResponse_DisposesItOnSuccessAndFailure_RefusesWithoutSending()
    {
        var limiter = new RecordingLimiter();
        var inner = new InnerHandler(limiter);
        using var invoker = new HttpMessageInvoker(new RedisRateLimitingHandler(limiter, "p") { InnerHandler = inner });

        using (var response = await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://x.test/"), default))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        inner.Throw = true;
        await Assert.ThrowsAsync<HttpRequestException>(() => invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://x.test/"), default));

        var refused = await Assert.ThrowsAsync<RateLimiterRejectedException>(() => invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://x.test/"), default));
        Assert.Equal(TimeSpan.FromSeconds(7), refused.RetryAfter);
        Assert.Contains("'p' refused the call to http://x.test", refused.Message, StringComparison.Ordinal);

        inner.Throw = false;
        using (var response = invoker.Send(new HttpRequestMessage(HttpMethod.Get, "http://x.test/"), default))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(4, limiter.Leases.Count);
        Assert.All(limiter.Leases, l => Assert.True(l.Disposed));
        Assert.Equal(3, inner.Sent);   // the refused call never reached the inner handler
    }

    private static async Task<Exception?> CallAsync(
        RedisFleetInstance instance, string url, string client = "partner", string? tenant = null, CancellationToken cancellationToken = default)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (tenant is not null)
            {
                request.Headers.Add("X-Tenant", tenant);
            }

            using var response = await instance.Services.GetRequiredService<IHttpClientFactory>().CreateClient(client).SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return null;
        }
        catch (RateLimiterRejectedException ex)
        {
            return ex;
        }
    }

    /// <summary>The members of the fleet's concurrency lease set: the calls holding a slot in Redis (an empty set is no key).</summary>
    private async Task<long> LeasesHeldAsync(RedisFleet fleet)
    {
        long held = 0;
        foreach (var key in await redis.KeysAsync(fleet.KeyPrefix + ":rl:"))
        {
            held += await redis.Database.SortedSetLengthAsync(key);
        }

        return held;
    }

    /// <summary>Polls a state (a release lands after the dispose); false if it never holds within 15 s.</summary>
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

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var was && was != seen)
        {
            seen = was;
        }
    }

    private Task<RedisFleet> StartAsync(
        Dictionary<string, string?> settings,
        Partner partner,
        Action<IHttpClientBuilder> limit,
        int instances = 1,
        Action<IServiceCollection>? more = null) =>
        RateLimitTestApp.StartAsync(redis, settings, (_, _) => { }, instances, services: (builder, _) =>
        {
            var client = builder.Services.AddHttpClient("partner");
            limit(client);
            client.ConfigurePrimaryHttpMessageHandler(partner.Handler);
            more?.Invoke(builder.Services);
        });

    /// <summary>A typed client, as an app would write one.</summary>
    private sealed class QuoteClient(HttpClient http)
    {
        public async Task<bool> TryGetAsync()
        {
            try
            {
                using var response = await http.GetAsync("/quote");
                return response.IsSuccessStatusCode;
            }
            catch (RateLimiterRejectedException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// The partner API: answers every path and counts the calls that reached it, per Host, and how many it held at once.
    /// After <see cref="Block"/> it holds each call until <see cref="Release"/> (or until the caller aborts).
    /// </summary>
    private sealed class Partner : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.OrdinalIgnoreCase);
        private WebApplication _app = null!;
        private TaskCompletionSource? _gate;
        private int _inFlight;
        private int _maxInFlight;

        public static async Task<Partner> StartAsync()
        {
            var partner = new Partner();
            var app = TestHost.CreateBuilder().Build();
            app.MapGet("/{**path}", async (HttpContext context) =>
            {
                partner._calls.AddOrUpdate(context.Request.Host.Host, 1, (_, n) => n + 1);
                var now = Interlocked.Increment(ref partner._inFlight);
                InterlockedMax(ref partner._maxInFlight, now);
                try
                {
                    if (Volatile.Read(ref partner._gate) is { } gate)
                    {
                        await gate.Task.WaitAsync(context.RequestAborted);
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref partner._inFlight);
                }

                return "quote";
            });
            await app.StartAsync();
            partner._app = app;
            return partner;
        }

        public int InFlight => Volatile.Read(ref _inFlight);

        public int MaxInFlight => Volatile.Read(ref _maxInFlight);

        public int Calls(string host) => _calls.GetValueOrDefault(host);

        public void Block() => Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        /// <summary>Lets every held call answer, and answers the next ones at once.</summary>
        public void Release() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

        public HttpMessageHandler Handler() => _app.GetTestServer().CreateHandler();

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }

    /// <summary>Leases that record whether they are still held; every third acquisition is refused with a RetryAfter.</summary>
    private sealed class RecordingLimiter : PartitionedRateLimiter<HttpRequestMessage>
    {
        public List<Lease> Leases { get; } = [];

        public override RateLimiterStatistics? GetStatistics(HttpRequestMessage resource) => null;

        protected override RateLimitLease AttemptAcquireCore(HttpRequestMessage resource, int permitCount) => throw new NotSupportedException();

        protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpRequestMessage resource, int permitCount, CancellationToken cancellationToken)
        {
            var lease = new Lease(acquired: Leases.Count % 3 != 2);
            Leases.Add(lease);
            return ValueTask.FromResult<RateLimitLease>(lease);
        }

        public sealed class Lease(bool acquired) : RateLimitLease
        {
            public bool Disposed { get; private set; }

            public override bool IsAcquired => acquired;

            public override IEnumerable<string> MetadataNames => [MetadataName.RetryAfter.Name];

            public override bool TryGetMetadata(string metadataName, out object? metadata)
            {
                metadata = acquired ? null : TimeSpan.FromSeconds(7);
                return !acquired && metadataName == MetadataName.RetryAfter.Name;
            }

            protected override void Dispose(bool disposing)
            {
                Disposed = true;
                base.Dispose(disposing);
            }
        }
    }

    private sealed class InnerHandler(RecordingLimiter limiter) : HttpMessageHandler
    {
        public bool Throw { get; set; }

        public int Sent { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(Send(request, cancellationToken));

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.False(limiter.Leases[^1].Disposed);
            Sent++;
            return Throw ? throw new HttpRequestException("partner down") : new HttpResponseMessage(System.Net.HttpStatusCode.OK);
        }
    }
}
