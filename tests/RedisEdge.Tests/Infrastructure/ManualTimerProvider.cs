namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// A <see cref="TimeProvider"/> whose clock and timers move only when a test advances it, so a wait of an hour
/// (<c>Task.Delay(delay, timeProvider)</c>, as a GCRA queue waits) ends exactly when the test says, not after a real
/// hour. <see cref="ManualTimeProvider"/> moves timestamps only; its timers are the system's.
/// </summary>
public sealed class ManualTimerProvider : TimeProvider
{
    private readonly object _lock = new();
    private readonly HashSet<Timer> _timers = [];
    private long _ticks = DateTimeOffset.UtcNow.UtcTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock and fires, once each, the timers that came due (a periodic one is then due a period later).</summary>
    public void Advance(TimeSpan by)
    {
        List<Timer> due;
        lock (_lock)
        {
            _ticks += by.Ticks;
            due = [.. _timers.Where(t => t.DueTicks <= _ticks)];
            foreach (var timer in due)
            {
                if (timer.Period == Timeout.InfiniteTimeSpan || timer.Period <= TimeSpan.Zero)
                {
                    _timers.Remove(timer);
                }
                else
                {
                    timer.DueTicks = _ticks + timer.Period.Ticks;
                }
            }
        }

        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    private sealed class Timer(ManualTimerProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long DueTicks { get; set; }

        public TimeSpan Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var now = false;
            lock (owner._lock)
            {
                Period = period;
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    owner._timers.Remove(this);
                    return true;
                }

                DueTicks = owner._ticks + dueTime.Ticks;
                if (dueTime <= TimeSpan.Zero && (period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero))
                {
                    owner._timers.Remove(this);
                    now = true;
                }
                else
                {
                    owner._timers.Add(this);
                }
            }

            if (now)
            {
                ThreadPool.QueueUserWorkItem(_ => Fire());
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
