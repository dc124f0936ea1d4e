namespace RedisEdge.RateLimiting.Internal;

internal sealed partial class RedisRateLimitingOptionsValidator
{
    /// <summary>What a policy counts: its algorithm, limits, durations and modes.</summary>
    private static void ValidateLimits(string path, RedisRateLimitPolicyOptions policy, List<string> errors)
    {
        if (!Enum.IsDefined(policy.Algorithm))
        {
            errors.Add($"{path}:Algorithm must be one of {string.Join(", ", Enum.GetNames<RedisRateLimitAlgorithm>())}.");
        }

        if (!Enum.IsDefined(policy.Mode))
        {
            errors.Add($"{path}:Mode must be Enforce or Shadow.");
        }

        if (policy.PermitLimit <= 0)
        {
            errors.Add($"{path}:PermitLimit must be > 0 (was {policy.PermitLimit}).");
        }

        if (policy.Algorithm != RedisRateLimitAlgorithm.Concurrency && (policy.Window < TimeSpan.FromMilliseconds(1) || policy.Window > TimeSpan.FromDays(366)))
        {
            errors.Add($"{path}:Window must be between 1 ms and 366 days (was {policy.Window}).");
        }

        if (policy.TokensPerPeriod < 0)
        {
            errors.Add($"{path}:TokensPerPeriod must be >= 0 (was {policy.TokensPerPeriod}).");
        }

        if (policy.Burst < 0)
        {
            errors.Add($"{path}:Burst must be >= 0 (was {policy.Burst}).");
        }

        if (policy.MaxQueueDelay < TimeSpan.Zero)
        {
            errors.Add($"{path}:MaxQueueDelay must be >= 0 (was {policy.MaxQueueDelay}).");
        }

        if (policy.LeaseTimeToLive < TimeSpan.FromMilliseconds(1))
        {
            errors.Add($"{path}:LeaseTimeToLive must be > 0 (was {policy.LeaseTimeToLive}).");
        }

        if (policy.FailureMode is { } mode && !Enum.IsDefined(mode))
        {
            errors.Add($"{path}:FailureMode must be FailOpen, FailClosed or LocalFallback.");
        }
    }
}
