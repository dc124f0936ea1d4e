using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.Sessions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.Cluster;

/// <summary>
/// Shared steps of the failover and resharding tests: the load each feature runs, and the analysis of what the
/// clients saw. Every test starts its own six-node cluster, because it damages or reshapes it.
/// </summary>
internal static class ClusterChaos
{
    /// <summary>
    /// One session per worker, spread over three instances: each iteration either writes the next value of a counter
    /// in the session or reads it on another instance. A read below the last acknowledged write is a lost write (what
    /// asynchronous replication can lose in a failover); it is counted, not failed.
    /// </summary>
    public sealed class SessionLoad(RedisFleet fleet, int workers)
    {
        private readonly SessionBrowser[] _browsers = Enumerable.Range(0, workers).Select(_ => new SessionBrowser()).ToArray();
        private readonly long[] _acknowledged = Enumerable.Repeat(-1L, workers).ToArray();
        private int _lostWrites;

        public int LostWrites => Volatile.Read(ref _lostWrites);

        public string? CookieOf(int worker) => _browsers[worker].Cookie;

        public async Task<LoadOutcome> RequestAsync(int worker, long iteration, CancellationToken cancellationToken)
        {
            var browser = _browsers[worker];
            var instance = fleet[(int)((worker + iteration) % fleet.Count)];
            if (iteration % 2 == 0)
            {
                var value = iteration / 2;
                var outcome = await LoadOutcome.FromAsync(await browser.SendAsync(instance, HttpMethod.Post, $"/set/n/{value}"));
                if (outcome.IsSuccess)
                {
                    _acknowledged[worker] = value;
                }

                return outcome;
            }

            using var response = await browser.SendAsync(instance, HttpMethod.Get, "/get/n");
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                var read = long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1;
                if (read < _acknowledged[worker])
                {
                    Interlocked.Increment(ref _lostWrites);
                    _acknowledged[worker] = read;
                }
            }

            return LoadOutcome.From(response, body);
        }
    }

    /// <summary>
    /// Three instances with one fail-closed fixed-window policy on <c>GET /rl</c>, partitioned globally (one counter key)
    /// and limited so high that nothing is refused: every answer is a Redis decision or an outage answer.
    /// </summary>
    public static Task<RedisFleet> StartRateLimitFleetAsync(string redisConfiguration, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RedisEdge:RateLimiting:Failure:Mode"] = "FailClosed",
            ["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "FixedWindow",
            ["RedisEdge:RateLimiting:Policies:api:PermitLimit"] = "1000000000",
            ["RedisEdge:RateLimiting:Policies:api:Window"] = "01:00:00",
            ["RedisEdge:RateLimiting:Policies:api:Partition"] = "Global",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return RedisFleet.StartAsync(
            redisConfiguration,
            3,
            (builder, _) => builder.Services.AddRedisEdge().AddRateLimiting(),
            (app, _) =>
            {
                app.UseRedisRateLimiting();
                app.MapGet("/rl", () => "ok").RequireRateLimit("api");
            },
            settings);
    }

    /// <summary>
    /// Three instances with an idempotent <c>POST /pay</c> that counts its executions per <c>Idempotency-Key</c> in
    /// <paramref name="executions"/>, so a test can tell a key that ran twice.
    /// </summary>
    public static Task<RedisFleet> StartPaymentFleetAsync(string redisConfiguration, ConcurrentDictionary<string, int> executions, Dictionary<string, string?> settings) =>
        IdempotencyTestApp.StartAsync(
            redisConfiguration,
            (app, _) => app.MapPost("/pay", (HttpContext context) =>
            {
                executions.AddOrUpdate(context.Request.Headers["Idempotency-Key"].ToString(), 1, (_, n) => n + 1);
                return Results.Created("/pay/1", new { ok = true });
            }).WithIdempotency(),
            instances: 3,
            settings: settings);

    /// <summary>Every key under <paramref name="prefix"/>, on every primary of the cluster.</summary>
    public static async Task<List<RedisKey>> KeysAsync(ConnectionMultiplexer admin, string prefix)
    {
        var keys = new List<RedisKey>();
        foreach (var server in admin.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: prefix + "*"))
            {
                keys.Add(key);
            }
        }

        Assert.True(keys.Count > 0, $"No key under {prefix} on any primary.");
        return keys;
    }

    /// <summary>What the clients saw, for assertions and for the figures the README quotes.</summary>
    public sealed record Report(int Requests, int Successes, int ServiceUnavailable, IReadOnlyList<LoadOutcome> Defects, TimeSpan? FirstFailure, TimeSpan? LastFailure)
    {
        /// <param name="outcomes">What the load recorded.</param>
        /// <param name="since">The event (kill, reshard) the report is relative to.</param>
        /// <param name="alsoCorrect">Failure statuses that are a correct answer for the feature, besides 503 (such as
        /// an idempotency 409 for a key whose first attempt is still claimed).</param>
        public static Report Of(IReadOnlyList<LoadOutcome> outcomes, TimeSpan since, params int[] alsoCorrect)
        {
            var after = outcomes.Where(o => o.At >= since).ToList();
            var failures = after.Where(o => !o.IsSuccess).ToList();

            // A fail-closed feature's 503 with Retry-After is a correct answer during an outage; anything else that is
            // not a success (a 500, another 5xx, a 503 without Retry-After, a transport exception) is a defect.
            var defects = failures.Where(o => o.Status != 503 && !alsoCorrect.Contains(o.Status)).ToList();
            return new Report(
                after.Count,
                after.Count - failures.Count,
                failures.Count(o => o.Status == 503),
                defects,
                failures.Count > 0 ? failures.Min(o => o.At) - since : null,
                failures.Count > 0 ? failures.Max(o => o.At) - since : null);
        }

        public string Describe(string what)
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"{what}: {Requests} requests, {Successes} succeeded, {ServiceUnavailable} answered 503 with Retry-After, {Defects.Count} defects");
            if (LastFailure is { } last)
            {
                text.Append(CultureInfo.InvariantCulture, $"; failures from +{FirstFailure!.Value.TotalMilliseconds:0} ms to +{last.TotalMilliseconds:0} ms after the event");
            }

            foreach (var defect in Defects.Take(5))
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  defect: {defect.Status} {defect.Detail}");
            }

            return text.ToString();
        }
    }

    public static void Log(ITestOutputHelper output, string line)
    {
        output.WriteLine(line);
        Console.WriteLine("[cluster figures] " + line);
    }
}
