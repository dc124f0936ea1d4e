using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Validates <see cref="RedisRateLimitingOptions"/> at start-up and on reload; every message names its configuration path.</summary>
internal sealed class RedisRateLimitingOptionsValidator(RedisEdgeSectionPath<RedisRateLimitingOptions> section, RedisEdgeSection<RedisRateLimitingOptions> configuration) : IValidateOptions<RedisRateLimitingOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisRateLimitingOptions options)
    {
        var errors = new List<string>();
        var root = section.Path;
        RedisEdgePolicyValidation.CheckBinding<RedisRateLimitPolicyOptions>(configuration.Section.GetSection("Policies"), errors);
        options.Failure.Validate($"{root}:Failure", errors, allowLocalFallback: true);
        if (options.InstanceCount < 1)
        {
            errors.Add($"{root}:InstanceCount must be >= 1 (was {options.InstanceCount}).");
        }
        if (options.RetryAfterJitter < TimeSpan.Zero)
        {
            errors.Add($"{root}:RetryAfterJitter must be >= 0 (was {options.RetryAfterJitter}).");
        }

        if (options.LocalDenyCacheSize < 0)
        {
            errors.Add($"{root}:LocalDenyCacheSize must be >= 0 (was {options.LocalDenyCacheSize}).");
        }

        if (options.GlobalPolicy is { Length: > 0 } global && !options.Policies.ContainsKey(global) &&
            !options.Policies.Keys.Any(k => string.Equals(k, global, StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"{root}:GlobalPolicy names '{global}', which is not defined under {root}:Policies.");
        }

        foreach (var (policyName, policy) in options.Policies)
        {
            var path = $"{root}:Policies:{policyName}";
            RedisEdgePolicyValidation.CheckName(path, policyName, errors);

            if (policy is null)
            {
                errors.Add($"{path} is empty.");
                continue;
            }

            ValidatePolicy(path, policy, errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }


    private static void ValidatePolicy(string path, RedisRateLimitPolicyOptions policy, List<string> errors)
    {
        if (!Enum.IsDefined(policy.Algorithm))
        {
            errors.Add($"{path}:Algorithm must be one of {string.Join(", ", Enum.GetNames<RedisRateLimitAlgorithm>())}.");
        }

        if (!Enum.IsDefined(policy.Mode))
        {
            errors.Add($"{path}:Mode must be Enforce or Shadow.");
        }

        if (!Enum.IsDefined(policy.Partition))
        {
            errors.Add($"{path}:Partition must be one of {string.Join(", ", Enum.GetNames<RedisRateLimitPartitionKind>())}.");
        }

        if (!Enum.IsDefined(policy.PartitionFallback))
        {
            errors.Add($"{path}:PartitionFallback must be ClientIp or Shared.");
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

        if (policy.Partition is RedisRateLimitPartitionKind.Claim or RedisRateLimitPartitionKind.Header && string.IsNullOrWhiteSpace(policy.PartitionName))
        {
            errors.Add($"{path}:PartitionName is required when Partition is {policy.Partition}.");
        }

        if (policy.Partition == RedisRateLimitPartitionKind.Custom && policy.PartitionResolver is null)
        {
            errors.Add($"{path}:PartitionResolver must be set in code when Partition is Custom.");
        }

        if (policy.IPv4PrefixLength is < 1 or > 32)
        {
            errors.Add($"{path}:IPv4PrefixLength must be between 1 and 32 (was {policy.IPv4PrefixLength}).");
        }

        if (policy.IPv6PrefixLength is < 1 or > 128)
        {
            errors.Add($"{path}:IPv6PrefixLength must be between 1 and 128 (was {policy.IPv6PrefixLength}).");
        }
        else if (policy.Partition == RedisRateLimitPartitionKind.Ip && policy.IPv4PrefixLength is >= 1 and <= 32)
        {
            ValidateIpEntries(path, policy, errors);
        }

        for (var i = 0; i < policy.Overrides.Count; i++)
        {
            var o = policy.Overrides[i];
            if (o is null || o.PermitLimit <= 0)
            {
                errors.Add($"{path}:Overrides:{i}:PermitLimit must be > 0 (was {o?.PermitLimit}).");
            }
            else if (o.TokensPerPeriod < 0 || o.Burst < 0)
            {
                errors.Add($"{path}:Overrides:{i}: TokensPerPeriod and Burst must be >= 0.");
            }
        }
    }

    /// <summary>An Ip policy's lists and overrides must name addresses or networks a client can fall into.</summary>
    private static void ValidateIpEntries(string path, RedisRateLimitPolicyOptions policy, List<string> errors)
    {
        void Check(string entryPath, string? entry)
        {
            if (entry is not null && !IpPartition.TryNormalize(entry, policy.IPv4PrefixLength, policy.IPv6PrefixLength, out _, out var error))
            {
                errors.Add($"{entryPath}: {error}.");
            }
        }

        for (var i = 0; i < policy.AllowList.Count; i++)
        {
            Check($"{path}:AllowList:{i}", policy.AllowList[i]);
        }

        for (var i = 0; i < policy.DenyList.Count; i++)
        {
            Check($"{path}:DenyList:{i}", policy.DenyList[i]);
        }

        for (var i = 0; i < policy.Overrides.Count; i++)
        {
            Check($"{path}:Overrides:{i}:Partition", policy.Overrides[i]?.Partition);
        }
    }
}
