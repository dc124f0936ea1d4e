using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// What a limiter reports from <c>GetStatistics()</c>: the permits left after its latest decision, and lease totals.
/// Concurrent acquisitions finish in any order, so "latest" is by the Redis server time of the decision, and within
/// one millisecond the smaller remainder (permits are only taken within it).
/// </summary>
internal sealed class LeaseStatistics
{
    private readonly Lock _lock = new();
    private long _available;
    private long _decidedAtMs = -1;
    private long _successful;
    private long _failed;
    private long _queued;

    /// <summary>Counts a lease; <paramref name="remaining"/> is what Redis (or the deny cache, 0) said is left, if anything.</summary>
    public void Record(bool acquired, long? remaining = null, long decidedAtMs = -1)
    {
        if (remaining is { } left)
        {
            left = Math.Max(0, left);
            lock (_lock)
            {
                if (decidedAtMs > _decidedAtMs || left < _available)
                {
                    _available = left;
                    _decidedAtMs = Math.Max(_decidedAtMs, decidedAtMs);
                }
            }
        }

        if (acquired)
        {
            Interlocked.Increment(ref _successful);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }
    }

    /// <summary>An acquisition waits for its GCRA queue slot (until <see cref="Dequeue"/>).</summary>
    public void Enqueue() => Interlocked.Increment(ref _queued);

    public void Dequeue() => Interlocked.Decrement(ref _queued);

    public RateLimiterStatistics Snapshot()
    {
        long available;
        lock (_lock)
        {
            available = _available;
        }

        return new()
        {
            CurrentAvailablePermits = available,
            CurrentQueuedCount = Interlocked.Read(ref _queued),
            TotalSuccessfulLeases = Interlocked.Read(ref _successful),
            TotalFailedLeases = Interlocked.Read(ref _failed),
        };
    }
}
