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
    private RedisCircuitState _state;
    private int _consecutiveFailures;
    private long _openUntil;

    /// <summary>
    /// The cluster node whose calls this breaker guards; <see langword="null"/> for the breaker of a single server (and
    /// of calls whose node is not known).
    /// </summary>
    public EndPoint? EndPoint => endPoint;

    public RedisCircuitState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>Whether calls are being refused or probed (<see cref="RedisCircuitState.Open"/> or <see cref="RedisCircuitState.HalfOpen"/>).</summary>
    public bool IsOpen => State != RedisCircuitState.Closed;

    /// <summary>
    /// How long a client should wait before retrying: the time until the next probe while the breaker is open, a whole
    /// break duration while a probe is out, otherwise one second. Never less than one second (the resolution of
    /// <c>Retry-After</c>).
    /// </summary>
    public TimeSpan RetryAfter
    {
        get
        {
            lock (_gate)
            {
                var left = _state switch
                {
                    RedisCircuitState.Open => timeProvider.GetElapsedTime(timeProvider.GetTimestamp(), _openUntil),
                    RedisCircuitState.HalfOpen => policy.BreakDuration,
                    _ => TimeSpan.Zero,
                };
                return left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left;
            }
        }
    }

    /// <summary>
    /// Whether a call may go to Redis now. Once the break duration is over, the first caller becomes the probe
    /// (<see cref="RedisCircuitState.HalfOpen"/>) and every other call is refused until the probe settles.
    /// </summary>
    public bool TryEnter()
    {
        lock (_gate)
        {
            switch (_state)
            {
                case RedisCircuitState.Closed:
                    return true;
                case RedisCircuitState.Open when timeProvider.GetTimestamp() >= _openUntil:
                    _state = RedisCircuitState.HalfOpen;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>Redis answered; returns <see langword="true"/> when this success closed an open breaker.</summary>
    public bool OnSuccess()
    {
        lock (_gate)
        {
            var wasOpen = _state != RedisCircuitState.Closed;
            _state = RedisCircuitState.Closed;
            _consecutiveFailures = 0;
            return wasOpen;
        }
    }

    /// <summary>
    /// Records a failure and returns the transition it caused. Any failure while open (the probe's, or that of a call
    /// admitted before the breaker opened) starts a new break duration.
    /// </summary>
    public RedisCircuitTransition OnFailure()
    {
        lock (_gate)
        {
            var was = _state;
            _consecutiveFailures++;
            if (was == RedisCircuitState.Closed && _consecutiveFailures < policy.BreakAfterFailures)
            {
                return RedisCircuitTransition.None;
            }

            _state = RedisCircuitState.Open;
            _openUntil = timeProvider.GetTimestamp() + (long)(policy.BreakDuration.TotalSeconds * timeProvider.TimestampFrequency);
            return was switch
            {
                RedisCircuitState.Closed => RedisCircuitTransition.Opened,
                RedisCircuitState.HalfOpen => RedisCircuitTransition.ProbeFailed,
                _ => RedisCircuitTransition.None,
            };
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
            if (_state == RedisCircuitState.HalfOpen)
            {
                _state = RedisCircuitState.Open;
            }
        }
    }
}

/// <summary>The lifecycle of a <see cref="RedisCircuitBreaker"/>.</summary>
internal enum RedisCircuitState
{
    /// <summary>Calls go to Redis; consecutive failures are counted.</summary>
    Closed,

    /// <summary>Calls are refused until the break duration is over.</summary>
    Open,

    /// <summary>The break duration is over and one probe call is out; every other call is refused until it settles.</summary>
    HalfOpen,
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
