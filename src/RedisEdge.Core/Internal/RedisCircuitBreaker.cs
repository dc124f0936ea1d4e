using System.Net;

namespace RedisEdge.Internal;

/// <summary>
/// Counts consecutive Redis failures; once open, refuses calls for the break duration, then lets exactly one
/// probe through whose outcome closes or re-opens it.
/// </summary>
/// <remarks>
/// Every call that <see cref="TryEnter"/> admitted must end in exactly one of <see cref="OnSuccess"/>,
/// <see cref="OnFailure"/> or <see cref="OnAbandoned"/>; otherwise a half-open probe would never be released and the
/// breaker would stay open until the process restarts. The methods report the state change they caused, so the
/// caller can log once per transition instead of once per call.
/// </remarks>
internal sealed class RedisCircuitBreaker(RedisFailurePolicyOptions policy, TimeProvider timeProvider, EndPoint? endPoint = null)
{
    private readonly Lock _gate = new();
    private int _consecutiveFailures;
    private long _openUntil;
    private bool _open;
    private bool _probeInFlight;

    /// <summary>
    /// The cluster node whose calls this breaker guards; <see langword="null"/> for the breaker of a single server (and
    /// of calls whose node is not known).
    /// </summary>
    public EndPoint? EndPoint => endPoint;

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

    /// <summary>
    /// How long a client should wait before retrying: the time until the next probe while the breaker is open,
    /// otherwise one second. Never less than one second (the resolution of <c>Retry-After</c>).
    /// </summary>
    public TimeSpan RetryAfter
    {
        get
        {
            lock (_gate)
            {
                if (!_open)
                {
                    return TimeSpan.FromSeconds(1);
                }

                var left = _probeInFlight ? policy.BreakDuration : timeProvider.GetElapsedTime(timeProvider.GetTimestamp(), _openUntil);
                return left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left;
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

    /// <summary>Redis answered; returns <see langword="true"/> when this success closed an open breaker.</summary>
    public bool OnSuccess()
    {
        lock (_gate)
        {
            var wasOpen = _open;
            _consecutiveFailures = 0;
            _open = false;
            _probeInFlight = false;
            return wasOpen;
        }
    }

    /// <summary>Records a failure and returns the transition it caused.</summary>
    public RedisCircuitTransition OnFailure()
    {
        lock (_gate)
        {
            var wasProbe = _probeInFlight;
            _probeInFlight = false;
            _consecutiveFailures++;
            if (!_open && _consecutiveFailures < policy.BreakAfterFailures)
            {
                return RedisCircuitTransition.None;
            }

            var wasOpen = _open;
            _open = true;
            _openUntil = timeProvider.GetTimestamp() + (long)(policy.BreakDuration.TotalSeconds * timeProvider.TimestampFrequency);
            return !wasOpen ? RedisCircuitTransition.Opened : wasProbe ? RedisCircuitTransition.ProbeFailed : RedisCircuitTransition.None;
        }
    }

    /// <summary>
    /// A call that tells nothing about Redis' health (cancelled by the caller, refused by the client before it was
    /// sent) gives back its probe slot and leaves the failure count as it was.
    /// </summary>
    public void OnAbandoned()
    {
        lock (_gate)
        {
            _probeInFlight = false;
        }
    }
}

/// <summary>A state change of <see cref="RedisCircuitBreaker"/>, for logging once per change.</summary>
internal enum RedisCircuitTransition
{
    /// <summary>No change worth a log line.</summary>
    None,

    /// <summary>The breaker was closed and this failure opened it.</summary>
    Opened,

    /// <summary>The half-open probe failed; the breaker stays open for another break duration.</summary>
    ProbeFailed,
}
