using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Validates <see cref="RedisRateLimitingOptions"/> at start-up and on reload; every message names its configuration path.</summary>
/// <remarks>
/// By concern: this file checks the feature's own settings and walks the policies; <c>.Limits.cs</c> checks what a
/// policy counts (algorithm, limits, durations, modes) and <c>.Partition.cs</c> whom it counts (partition, IP lists,
/// overrides).
/// </remarks>
internal sealed partial class RedisRateLimitingOptionsValidator(RedisEdgeSectionPath<RedisRateLimitingOptions> section, RedisEdgeSection<RedisRateLimitingOptions> configuration) : IValidateOptions<RedisRateLimitingOptions>
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

        RedisEdgePolicyValidation.CheckPolicies(root, options.Policies, errors, (path, _, policy) =>
        {
            ValidateLimits(path, policy, errors);
            ValidatePartition(path, policy, errors);
            ValidateOverrides(path, policy, errors);
        });

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
