using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// Hot-partition coalescing through the middleware, deterministically: a private redis-server is paused
/// (<c>CLIENT PAUSE WRITE</c>) so each instance's first call stays in flight while the other requests queue behind it.
/// Counts are asserted (admitted requests, script calls, the counter in Redis), never timings.
/// </summary>
public sealed class RateLimitCoalescingTests : PrivateRedisServerTests
{
    private const string Path = "/hot";

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    public async Task ThreeInstances_RequestsQueuedBehindACallInFlight_ShareOneCall_AndTheFleetAdmitsExactlyTheLimit(RedisRateLimitAlgorithm algorithm)
    {
        const int limit = 50;
        const int perInstance = 41;
        await using var fleet = await StartAsync(algorithm, limit, instances: 3);
        await WarmUpAsync(fleet);

        var scopes = fleet.Instances.Select(i => i.Commands.Begin()).ToList();
        List<Task<HttpResponseMessage>> requests;
        await PauseWritesAsync();
        try
        {
            requests = [.. fleet.Instances.SelectMany(i => Enumerable.Range(0, perInstance).Select(_ => i.Client.GetAsync(Path)))];

            // One call per instance is in Redis; the other 40 of each instance wait for it.
            await WaitUntilAsync(() => fleet.Instances.Sum(i => Coalescer(i).Queued) == 3 * (perInstance - 1));
        }
        finally
        {
            await UnpauseAsync();
        }

        var responses = await Task.WhenAll(requests);
        Assert.DoesNotContain(responses, r => r.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
        Assert.Equal(limit, responses.Count(r => r.StatusCode == HttpStatusCode.OK));

        // 123 requests, six script calls: each instance's first request, then one call for the 40 queued behind it.
        foreach (var scope in scopes)
        {
            Assert.Equal(2, scope.Commands.Count(c => c.StartsWith("EVAL", StringComparison.Ordinal)));
        }

        Assert.All(fleet.Instances, i => Assert.Equal(0, Coalescer(i).ActiveLanes));

        // Every 429 still tells the client when to come back.
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests), r => Assert.NotNull(r.Headers.RetryAfter));
    }

    [Fact]
    public async Task QueuedRequestsCancelled_TakeNothing_AndTheOthersKeepExactlyWhatTheyTook()
    {
        await using var fleet = await StartAsync(RedisRateLimitAlgorithm.FixedWindow, limit: 100, instances: 1);
        await WarmUpAsync(fleet);
        var instance = fleet[0];
        using var batches = new MeasurementRecorder<int>(
            instance.Services.GetRequiredService<RateLimitingMetrics>().Telemetry.Meter, RedisRateLimitingDefaults.CoalescedRequestsInstrument);

        var aborts = Enumerable.Range(0, 10).Select(_ => new CancellationTokenSource()).ToList();
        List<Task<HttpResponseMessage>> queued;
        Task<HttpResponseMessage> first;
        await PauseWritesAsync();
        try
        {
            first = instance.Client.GetAsync(Path);
            await WaitUntilAsync(() => Coalescer(instance).ActiveLanes == 1);
            queued = [.. aborts.Select(a => instance.Client.GetAsync(Path, a.Token))];
            await WaitUntilAsync(() => Coalescer(instance).Queued == 10);

            // Four clients give up while queued: their requests are dropped before the next call is built.
            foreach (var abort in aborts.Take(4))
            {
                await abort.CancelAsync();
            }

            foreach (var request in queued.Take(4))
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
            }

            // The client gave up; the server sees it through RequestAborted, which the middleware waits on. Only once
            // the coalescer sees those four aborted is the call in flight let go (the client-side exception alone does
            // not say the server has seen the abort yet).
            await WaitUntilAsync(() => Coalescer(instance).Queued == 6);
        }
        finally
        {
            await UnpauseAsync();
        }

        var leader = await first;
        Assert.Equal(HttpStatusCode.OK, leader.StatusCode);
        Assert.Equal(99, Remaining(leader));

        // The six that stayed went in one call: each is told what was left after it, as if sent one by one (in the
        // order they reached the middleware, which need not be the order the client started them).
        var remaining = new List<long>();
        foreach (var request in queued.Skip(4))
        {
            var response = await request;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            remaining.Add(Remaining(response));
        }

        Assert.Equal([93, 94, 95, 96, 97, 98], remaining.Order());

        // The first request and the six that stayed, and nothing else: the cancelled ones took nothing, and no one
        // gave anything back.
        var key = (await KeysAsync(fleet)).Single(k => k.Contains(":hot:", StringComparison.Ordinal));
        Assert.Equal(7, (long)await Admin.GetDatabase().HashGetAsync(key, "c"));
        Assert.Equal([1, 6], batches.Measurements.Select(m => m.Value));
        aborts.ForEach(a => a.Dispose());
    }

    [Fact]
    public async Task CoalescingOff_EveryQueuedRequestSendsItsOwnCall()
    {
        await using var fleet = await StartAsync(RedisRateLimitAlgorithm.FixedWindow, limit: 100, instances: 1, coalesce: false);
        await WarmUpAsync(fleet);
        var instance = fleet[0];

        using var scope = instance.Commands.Begin();
        List<Task<HttpResponseMessage>> requests;
        await PauseWritesAsync();
        try
        {
            requests = [.. Enumerable.Range(0, 10).Select(_ => instance.Client.GetAsync(Path))];
            await WaitUntilAsync(() => instance.Multiplexer.GetCounters().Interactive.SentItemsAwaitingResponse >= 10);
        }
        finally
        {
            await UnpauseAsync();
        }

        Assert.All(await Task.WhenAll(requests), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(10, scope.Commands.Count(c => c.StartsWith("EVAL", StringComparison.Ordinal)));
        Assert.Equal(0, Coalescer(instance).ActiveLanes);
    }

    /// <summary>The <c>r</c> parameter of the response's RateLimit field.</summary>
    private static long Remaining(HttpResponseMessage response)
    {
        var field = string.Join(", ", response.Headers.GetValues(RedisRateLimitingDefaults.RateLimitHeader));
        var match = System.Text.RegularExpressions.Regex.Match(field, @";r=(\d+)");
        Assert.True(match.Success, field);
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<RedisFleet> StartAsync(RedisRateLimitAlgorithm algorithm, int limit, int instances, bool coalesce = true)
    {
        var settings = new Dictionary<string, string?>()
            .Policy("hot", algorithm, limit, TimeSpan.FromHours(1), algorithm == RedisRateLimitAlgorithm.TokenBucket ? [("TokensPerPeriod", "1")] : [])
            .Policy("warm", RedisRateLimitAlgorithm.FixedWindow, 1_000, TimeSpan.FromHours(1));
        settings[$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:30";
        settings[$"{RateLimitTestApp.Section}:CoalesceHotPartitions"] = coalesce ? "true" : "false";
        return await RateLimitTestApp.StartAsync(
            Server.Configuration,
            settings,
            (app, _) =>
            {
                app.MapGet(Path, () => "ok").RequireRateLimit("hot");
                app.MapGet("/warm", () => "ok").RequireRateLimit("warm");
            },
            instances);
    }

    /// <summary>Loads the script on every instance (another partition), so the measured calls are plain EVALSHAs.</summary>
    private static async Task WarmUpAsync(RedisFleet fleet)
    {
        foreach (var instance in fleet.Instances)
        {
            Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/warm")).StatusCode);
        }
    }

    private static RateLimitCoalescer Coalescer(RedisFleetInstance instance) =>
        instance.Services.GetRequiredService<RedisRateLimiter>().Coalescer;

    private async Task<List<string>> KeysAsync(RedisFleet fleet)
    {
        var server = AdminServer;
        var keys = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: fleet.KeyPrefix + "*"))
        {
            keys.Add(key.ToString());
        }

        return keys;
    }

    /// <summary>Polls a count the instances reach on their own (no timing is asserted; the bound only stops a hang).</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The requests did not reach the expected state.");
            await Task.Delay(10);
        }
    }
}
