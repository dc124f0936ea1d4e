using System.Diagnostics;
using System.Net;

namespace RedisEdge.Benchmarks;

/// <summary>
/// Sends a fixed number of requests from a fixed number of concurrent clients (each with its own cookie) and
/// reports throughput and latency percentiles. Bounded in count and time; loopback only.
/// </summary>
internal static class LoadDriver
{
    /// <summary>Runs the load; a response that is not 200 with <paramref name="expectedBody"/> counts as an error.</summary>
    public static async Task<LoadResult> RunAsync(Uri baseAddress, string path, HttpMethod method, string expectedBody, IReadOnlyList<string?> cookies, int requests, TimeSpan limit)
    {
        using var handler = new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = cookies.Count, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        using var stop = new CancellationTokenSource(limit);
        var latencies = new double[requests];
        var next = -1;
        var errors = 0;
        var total = Stopwatch.StartNew();
        var workers = cookies.Select(async cookie =>
        {
            while (!stop.IsCancellationRequested)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= requests)
                {
                    return;
                }

                using var request = new HttpRequestMessage(method, path);
                if (cookie is not null)
                {
                    request.Headers.Add("Cookie", cookie);
                }

                var watch = Stopwatch.StartNew();
                using var response = await client.SendAsync(request, stop.Token);
                var body = await response.Content.ReadAsStringAsync(stop.Token);
                latencies[index] = watch.Elapsed.TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK || body != expectedBody)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }).ToArray();
        await Task.WhenAll(workers);
        total.Stop();
        var done = Math.Min(requests, next);
        var sorted = latencies.Take(done).Order().ToArray();
        return new LoadResult(done, errors, done / total.Elapsed.TotalSeconds, Percentile(sorted, 0.50), Percentile(sorted, 0.99));
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

internal sealed record LoadResult(int Requests, int Errors, double RequestsPerSecond, double P50Ms, double P99Ms);
