using System.Diagnostics;
using System.Net;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// Closed-loop load for chaos tests (failover, resharding): <c>workers</c> concurrent loops each send one request at a
/// time until stopped, and every answer is recorded with the time it arrived, so a test can count 5xx answers and
/// measure when a feature recovered. A request that throws is recorded with status 0.
/// </summary>
public sealed class LoadRecorder : IAsyncDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<LoadOutcome> _outcomes = [];
    private readonly Dictionary<string, TimeSpan> _marks = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;
    private volatile bool _stopping;

    private LoadRecorder(int workers, Func<int, long, CancellationToken, Task<LoadOutcome>> request)
    {
        _workers = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            for (long i = 0; !_stopping; i++)
            {
                LoadOutcome outcome;
                try
                {
                    outcome = await request(w, i, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    outcome = new LoadOutcome(0, ex.GetType().Name + ": " + ex.Message);
                }

                lock (_outcomes)
                {
                    _outcomes.Add(outcome with { At = _clock.Elapsed, Worker = w });
                }
            }
        })).ToArray();
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Starts the loops. <paramref name="request"/> gets the worker index and its iteration number.</summary>
    public static LoadRecorder Start(int workers, Func<int, long, CancellationToken, Task<LoadOutcome>> request) => new(workers, request);

    /// <summary>Records the current time under <paramref name="name"/> (such as "kill").</summary>
    public TimeSpan Mark(string name)
    {
        var now = _clock.Elapsed;
        lock (_marks)
        {
            _marks[name] = now;
        }

        return now;
    }

    public TimeSpan this[string mark]
    {
        get
        {
            lock (_marks)
            {
                return _marks[mark];
            }
        }
    }

    /// <summary>Every answer so far, in arrival order.</summary>
    public IReadOnlyList<LoadOutcome> Outcomes
    {
        get
        {
            lock (_outcomes)
            {
                return [.. _outcomes];
            }
        }
    }

    /// <summary>Waits until <paramref name="worker"/> (or any worker) got <paramref name="count"/> successes after <paramref name="since"/>.</summary>
    public async Task WaitForSuccessesAsync(TimeSpan since, int count, TimeSpan timeout, int? worker = null)
    {
        var deadline = _clock.Elapsed + timeout;
        while (_clock.Elapsed < deadline)
        {
            if (Outcomes.Count(o => o.At > since && o.IsSuccess && (worker is null || o.Worker == worker)) >= count)
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"Fewer than {count} successes within {timeout} after {since}. Last answers: " +
            string.Join("; ", Outcomes.TakeLast(5).Select(o => $"{o.Status} {o.Detail}")));
    }

    /// <summary>
    /// Waits until no request has failed for <paramref name="quiet"/> (and some succeeded in that time), on every
    /// worker: the point from which the system under test has recovered. Returns when the last failure arrived.
    /// </summary>
    public async Task<TimeSpan> WaitForQuietAsync(TimeSpan since, TimeSpan quiet, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        while (_clock.Elapsed < deadline)
        {
            var now = _clock.Elapsed;
            var recent = Outcomes.Where(o => o.At > since).ToList();
            var lastFailure = recent.Where(o => !o.IsSuccess).Select(o => o.At).DefaultIfEmpty(since).Max();
            if (now - lastFailure >= quiet && recent.Any(o => o.At > lastFailure && o.IsSuccess))
            {
                return lastFailure;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"Requests kept failing for {timeout} after {since}. Last answers: " +
            string.Join("; ", Outcomes.TakeLast(5).Select(o => $"{o.Status} {o.Detail}")));
    }

    /// <summary>Lets every loop finish its request in flight (so each answer sent is recorded), then stops them.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        await Task.WhenAll(_workers);
    }

    /// <summary>Stops the loops, cancelling requests still in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        _stop.Dispose();
    }
}

/// <summary>One answer: HTTP status (0 when the request threw), detail for failure messages, arrival time and worker.</summary>
public sealed record LoadOutcome(int Status, string? Detail = null)
{
    public TimeSpan At { get; init; }

    public int Worker { get; init; }

    public bool IsSuccess => Status is >= 200 and < 300;

    public static async Task<LoadOutcome> FromAsync(HttpResponseMessage response)
    {
        using (response)
        {
            return From(response, await response.Content.ReadAsStringAsync());
        }
    }

    /// <summary>The outcome of a response whose body was read; a 503 without <c>Retry-After</c> is recorded as -503.</summary>
    public static LoadOutcome From(HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        if (status == (int)HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is null)
        {
            return new LoadOutcome(-503, "503 without Retry-After: " + body);
        }

        return new LoadOutcome(status, status >= 400 ? body : null);
    }
}
