namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// A request's wait for another request's fill of its variant: whether it waited at all (the response is then
/// <c>collapsed</c>), when its <c>FillWaitTimeout</c> ends, and the pub/sub registration that wakes it.
/// </summary>
/// <remarks>A mutable struct held by the middleware's request method: call its members on that one copy.</remarks>
internal struct FillWait(TimeProvider timeProvider, TimeSpan timeout)
{
    private long _deadline;
    private Task? _wake;

    /// <summary>Whether the request has waited (looked up again after another request held the lease).</summary>
    public bool Collapsed { get; private set; }

    /// <summary>Whether the wait has started and run out (a request past it forwards instead of waiting).</summary>
    public readonly bool IsOver => _deadline != 0 && timeProvider.GetTimestamp() >= _deadline;

    /// <summary>
    /// After a lookup that gave no lease: how long to wait before looking up again (the pub/sub message or the poll
    /// interval, whichever is first), or <see langword="null"/> when the wait is over. The first call starts it.
    /// </summary>
    public TimeSpan? Next()
    {
        var now = timeProvider.GetTimestamp();
        if (_deadline == 0)
        {
            _deadline = now + (long)(timeout.TotalSeconds * timeProvider.TimestampFrequency);
        }

        if (now >= _deadline)
        {
            return null;
        }

        var left = TimeSpan.FromSeconds((double)(_deadline - now) / timeProvider.TimestampFrequency);
        return left < RedisResponseCachingDefaults.FillWaitPollInterval ? left : RedisResponseCachingDefaults.FillWaitPollInterval;
    }

    /// <summary>The task the fill's (or an eviction's) message completes; registered once, before the first wait.</summary>
    public Task Wake(ResponseCacheEvents events, string entryName)
    {
        Collapsed = true;
        return _wake ??= events.WhenChanged(entryName);
    }

    /// <summary>Registers again before the next lookup, so a message between its answer and the next wait is not missed.</summary>
    public void Rearm(ResponseCacheEvents events, string entryName) => _wake = events.WhenChanged(entryName);

    /// <summary>A registration nobody completed (the request was answered by a poll) must not outlive the wait.</summary>
    public readonly void Forget(ResponseCacheEvents events, string entryName)
    {
        if (_wake is not null)
        {
            events.Forget(entryName, _wake);
        }
    }
}
