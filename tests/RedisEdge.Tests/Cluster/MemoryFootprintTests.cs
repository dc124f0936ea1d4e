using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.Idempotency;
using RedisEdge.RateLimiting;
using RedisEdge.ResponseCaching;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.RateLimiting;
using RedisEdge.Tests.ResponseCaching;
using RedisEdge.Tests.Sessions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.Cluster;

/// <summary>
/// Redis memory per unit of state (<c>MEMORY USAGE</c>, averaged over many keys), the figures the README's "Scaling out"
/// section uses to size a deployment. The bounds are the documented figures with headroom: a change that makes the
/// state much larger fails here and must update the README.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class MemoryFootprintTests(RedisServerFixture redis, ITestOutputHelper output)
{
    [Fact]
    public async Task Session_BoundToAUser_WithTwoSmallValues()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        const int Sessions = 100;
        for (var i = 0; i < Sessions; i++)
        {
            var browser = new SessionBrowser();
            await browser.PostAsync(fleet[0], $"/login/user{i % 10}");
            await browser.PostAsync(fleet[0], "/set/cart/123");
        }

        var keys = await redis.KeysAsync(fleet.KeyPrefix);
        var indexes = keys.Where(k => k.EndsWith(":user", StringComparison.Ordinal)).ToList();
        var sessions = keys.Except(indexes).ToList();
        Assert.Equal(Sessions, sessions.Count);
        Assert.Equal(10, indexes.Count);

        var perSession = await AverageUsageAsync(sessions);
        var perIndexEntry = (await TotalUsageAsync(indexes)) / (double)Sessions;
        Report($"session (user bound, values \"user\" and \"cart\"): {perSession:0} B per session hash + {perIndexEntry:0} B per entry in its user's index (10 sessions per user)");
        Assert.InRange(perSession, 50, 400);
        Assert.InRange(perIndexEntry, 10, 200);
    }

    [Fact]
    public async Task RateLimitPartition_PerAlgorithm_AtALimitOf100()
    {
        var algorithms = new[]
        {
            RedisRateLimitAlgorithm.FixedWindow, RedisRateLimitAlgorithm.SlidingWindowLog, RedisRateLimitAlgorithm.SlidingWindowCounter,
            RedisRateLimitAlgorithm.TokenBucket, RedisRateLimitAlgorithm.Gcra,
        };
        var settings = new Dictionary<string, string?>();
        foreach (var algorithm in algorithms)
        {
            settings.Policy(Name(algorithm), algorithm, 100, TimeSpan.FromHours(1), algorithm == RedisRateLimitAlgorithm.TokenBucket ? [("TokensPerPeriod", "1")] : []);
        }

        await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) =>
        {
            foreach (var algorithm in algorithms)
            {
                app.MapGet("/" + Name(algorithm), () => "ok").RequireRateLimit(Name(algorithm));
            }
        });

        // A partition at its fullest: every permit of the window taken (the sliding log keeps one entry per permit).
        foreach (var algorithm in algorithms)
        {
            for (var i = 0; i < 100; i++)
            {
                using var response = await fleet[0].Client.GetAsync("/" + Name(algorithm));
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            }
        }

        var keys = await redis.KeysAsync(fleet.KeyPrefix);
        var figures = new List<string>();
        foreach (var algorithm in algorithms)
        {
            var bytes = await TotalUsageAsync(keys.Where(k => k.Contains($":{Name(algorithm)}:", StringComparison.Ordinal)));
            figures.Add($"{algorithm} {bytes} B");
            Assert.InRange(bytes, 50, algorithm == RedisRateLimitAlgorithm.SlidingWindowLog ? 12_000 : 400);
        }

        Report("rate-limit partition, limit 100, full: " + string.Join(", ", figures) + " (concurrency: one sorted-set entry per request in flight, nothing at rest)");
    }

    [Fact]
    public async Task IdempotencyRecord_WithA1KbResponse()
    {
        var body = new string('x', 1024);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/pay", () => Results.Text(body, "application/json", statusCode: 201)).WithIdempotency());
        for (var i = 0; i < 50; i++)
        {
            using var response = await fleet[0].PostAsync("/pay", $"key-{i}");
            Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        }

        var records = await redis.RecordKeysAsync(fleet);
        Assert.Equal(50, records.Count);
        var perRecord = await AverageUsageAsync(records);
        Report($"idempotency record with a 1 KB response body: {perRecord:0} B (body + fingerprint + headers + hash overhead), kept for the retention time");
        Assert.InRange(perRecord, 1024, 2048);
    }

    [Fact]
    public async Task CachedEntry_WithASmallJsonBody()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        for (var i = 0; i < 50; i++)
        {
            using var response = await fleet[0].Client.GetAsync($"/items/{i}");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        var keys = await redis.KeysAsync(fleet.KeyPrefix);
        var entries = keys.Where(k => k.Contains(":e:", StringComparison.Ordinal)).ToList();
        Assert.Equal(50, entries.Count);
        var perEntry = await AverageUsageAsync(entries);
        var sets = (await TotalUsageAsync(keys.Except(entries))) / 50.0;
        Report($"response-cache entry of a small JSON body: {perEntry:0} B per entry hash, plus {sets:0} B per entry in tag and URL sets and the policy's bound index (two tags, one shared by all 50 entries; {keys.Count} keys in all)");
        Assert.InRange(perEntry, 100, 2048);
        // The sets now include the policy's bound index (a sorted-set member and a metadata field naming the entry's
        // sets, for MaxEntries/MaxBytes): about 250 B per entry on top of the tag and URL sets' ~600 B.
        Assert.InRange(sets, 50, 1200);
    }

    private static string Name(RedisRateLimitAlgorithm algorithm) => algorithm.ToString().ToLowerInvariant();

    private void Report(string line)
    {
        output.WriteLine(line);
        Console.WriteLine("[memory figures] " + line);
    }

    private async Task<double> AverageUsageAsync(List<string> keys) => (await TotalUsageAsync(keys)) / (double)keys.Count;

    private async Task<long> TotalUsageAsync(IEnumerable<string> keys)
    {
        long total = 0;
        foreach (var key in keys)
        {
            // SAMPLES 0: measure every element of the key, not an estimate from a sample.
            total += (long)await redis.Database.ExecuteAsync("MEMORY", "USAGE", (RedisKey)key, "SAMPLES", "0");
        }

        return total;
    }
}
