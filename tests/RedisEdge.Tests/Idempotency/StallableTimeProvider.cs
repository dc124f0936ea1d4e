namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// The system clock for one instance, whose timers can be frozen as a stalled process's would be (SIGSTOP, a long GC
/// pause, a starved thread pool): while stalled, a timer that comes due (the lease renewal's delay) does not run
/// until <see cref="Resume"/>, so the instance's lease runs out on the Redis clock with no renewal.
/// </summary>
internal sealed class StallableTimeProvider : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<(TimerCallback Callback, object? State)> _deferred = [];
    private bool _stalled;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        System.CreateTimer(s => Fire(callback, s), state, dueTime, period);

    public void Stall()
    {
        lock (_lock)
        {
            _stalled = true;
        }
    }

    /// <summary>Ends the stall: the timers that came due meanwhile run now, as they would when the process resumes.</summary>
    public void Resume()
    {
        List<(TimerCallback Callback, object? State)> due;
        lock (_lock)
        {
            _stalled = false;
            due = [.. _deferred];
            _deferred.Clear();
        }

        foreach (var (callback, state) in due)
        {
            callback(state);
        }
    }

    private void Fire(TimerCallback callback, object? state)
    {
        lock (_lock)
        {
            if (_stalled)
            {
                _deferred.Add((callback, state));
                return;
            }
        }

        callback(state);
    }
}
