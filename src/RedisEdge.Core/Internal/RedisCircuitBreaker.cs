namespace RedisEdge.Internal;

/// <summary>
/// Counts consecutive Redis failures; once open, refuses calls for the break duration, then lets exactly one
/// probe through whose outcome closes or re-opens it.
/// </summary>
internal sealed class RedisCircuitBreaker(RedisFailurePolicyOptions policy, TimeProvider timeProvider)
{
    private readonly Lock _gate = new();
    private int _consecutiveFailures;
    private long _openUntil;
    private bool _open;
    private bool _probeInFlight;

    public bool IsOpen
    {
        get
        {
            lock (_gate)
            {
                return _open;
            }
        }
    }

    /// <summary>Whether a call may go to Redis now.</summary>
    public bool TryEnter()
    {
        lock (_gate)
        {
            if (!_open)
            {
                return true;
            }

            if (_probeInFlight || timeProvider.GetTimestamp() < _openUntil)
            {
                return false;
            }

            _probeInFlight = true;
            return true;
        }
    }

    public void OnSuccess()
    {
        lock (_gate)
        {
            _consecutiveFailures = 0;
            _open = false;
            _probeInFlight = false;
        }
    }

    /// <summary>Records a failure; returns <see langword="true"/> when this failure opened the breaker.</summary>
    public bool OnFailure()
    {
        lock (_gate)
        {
            _probeInFlight = false;
            _consecutiveFailures++;
            if (!_open && _consecutiveFailures < policy.BreakAfterFailures)
            {
                return false;
            }

            var wasOpen = _open;
            _open = true;
            _openUntil = timeProvider.GetTimestamp() + (long)(policy.BreakDuration.TotalSeconds * timeProvider.TimestampFrequency);
            return !wasOpen;
        }
    }

    /// <summary>A call that neither succeeded nor failed (cancelled by the caller) gives back its probe slot.</summary>
    public void OnAbandoned()
    {
        lock (_gate)
        {
            _probeInFlight = false;
        }
    }
}
