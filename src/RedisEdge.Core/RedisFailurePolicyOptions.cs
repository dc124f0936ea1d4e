namespace RedisEdge;

/// <summary>
/// How one feature behaves when Redis is slow or unreachable: a per-call timeout budget, a circuit breaker
/// and the <see cref="RedisFailureMode"/> applied to requests while Redis cannot answer.
/// </summary>
/// <remarks>
/// While the breaker is open, calls fail at once instead of each waiting for the timeout, so a request pays
/// at most <see cref="Timeout"/> even during an outage. After <see cref="BreakDuration"/> one probe call is let
/// through; its success closes the breaker, so the app recovers by itself when Redis returns.
/// </remarks>
public sealed class RedisFailurePolicyOptions
{
    /// <summary>What to do with a request when Redis cannot answer. Each feature picks its own default.</summary>
    public RedisFailureMode Mode { get; set; } = RedisFailureMode.FailOpen;

    /// <summary>The longest a request waits for one Redis script call. Default 500 ms.</summary>
    public TimeSpan Timeout { get; set; } = RedisEdgeDefaults.Timeout;

    /// <summary>Consecutive failed calls (timeouts or connection errors) that open the breaker. Default 5.</summary>
    public int BreakAfterFailures { get; set; } = RedisEdgeDefaults.BreakAfterFailures;

    /// <summary>How long the breaker stays open before it lets one probe call through. Default 5 s.</summary>
    public TimeSpan BreakDuration { get; set; } = RedisEdgeDefaults.BreakDuration;

    internal void Validate(string path, List<string> errors, bool allowLocalFallback = false)
    {
        if (!Enum.IsDefined(Mode) || (Mode == RedisFailureMode.LocalFallback && !allowLocalFallback))
        {
            errors.Add(allowLocalFallback ? $"{path}:Mode must be FailOpen, FailClosed or LocalFallback." : $"{path}:Mode must be FailOpen or FailClosed.");
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{path}:Timeout must be > 0 and <= 00:01:00 (was {Timeout}).");
        }

        if (BreakAfterFailures < 1)
        {
            errors.Add($"{path}:BreakAfterFailures must be >= 1 (was {BreakAfterFailures}).");
        }

        if (BreakDuration <= TimeSpan.Zero)
        {
            errors.Add($"{path}:BreakDuration must be > 0 (was {BreakDuration}).");
        }
    }
}
