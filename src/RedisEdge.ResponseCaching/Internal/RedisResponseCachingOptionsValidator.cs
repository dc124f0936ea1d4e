using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Validates <see cref="RedisResponseCachingOptions"/> at start-up and on reload; every message names its configuration path.</summary>
internal sealed class RedisResponseCachingOptionsValidator(
    RedisEdgeSectionPath<RedisResponseCachingOptions> section,
    RedisEdgeSection<RedisResponseCachingOptions> configuration) : IValidateOptions<RedisResponseCachingOptions>
{
    /// <summary>Redis keeps at most 512 MB in one value; a cache entry is far below that in practice.</summary>
    private const long MaximumBodySizeLimit = 64L * 1024 * 1024;

    public ValidateOptionsResult Validate(string? name, RedisResponseCachingOptions options)
    {
        var errors = new List<string>();
        var root = section.Path;
        RedisEdgePolicyValidation.CheckBinding<RedisResponseCachePolicyOptions>(configuration.Section.GetSection("Policies"), errors);
        options.Failure.Validate($"{root}:Failure", errors);
        if (options.FillLeaseTimeout < TimeSpan.FromMilliseconds(1) || options.FillLeaseTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{root}:FillLeaseTimeout must be between 1 ms and 01:00:00 (was {options.FillLeaseTimeout}).");
        }

        if (options.FillWaitTimeout < TimeSpan.Zero || options.FillWaitTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{root}:FillWaitTimeout must be between 0 and 00:05:00 (was {options.FillWaitTimeout}).");
        }

        var near = options.NearCache;
        if (near is null)
        {
            errors.Add($"{root}:NearCache must not be null.");
        }
        else
        {
            if (near.MaxEntries < 1)
            {
                errors.Add($"{root}:NearCache:MaxEntries must be >= 1 (was {near.MaxEntries}).");
            }

            if (near.MaxEntrySize < 1)
            {
                errors.Add($"{root}:NearCache:MaxEntrySize must be >= 1 (was {near.MaxEntrySize}).");
            }
        }

        RedisEdgePolicyValidation.CheckPolicies(root, options.Policies, errors, (path, _, policy) => ValidatePolicy(path, policy, errors));

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }


    private static void ValidatePolicy(string path, RedisResponseCachePolicyOptions policy, List<string> errors)
    {
        if (policy.Expire < TimeSpan.FromMilliseconds(1) || policy.Expire > TimeSpan.FromDays(366))
        {
            errors.Add($"{path}:Expire must be between 1 ms and 366 days (was {policy.Expire}).");
        }

        if (policy.StaleWhileRevalidate < TimeSpan.Zero || policy.StaleWhileRevalidate > TimeSpan.FromDays(366))
        {
            errors.Add($"{path}:StaleWhileRevalidate must be between 0 and 366 days (was {policy.StaleWhileRevalidate}).");
        }

        if (policy.StaleIfError < TimeSpan.Zero || policy.StaleIfError > TimeSpan.FromDays(366))
        {
            errors.Add($"{path}:StaleIfError must be between 0 and 366 days (was {policy.StaleIfError}).");
        }

        if (policy.MaximumBodySize < 1 || policy.MaximumBodySize > MaximumBodySizeLimit)
        {
            errors.Add($"{path}:MaximumBodySize must be between 1 and {MaximumBodySizeLimit} bytes (was {policy.MaximumBodySize}).");
        }

        if (policy.MaxEntries < 1)
        {
            errors.Add($"{path}:MaxEntries must be >= 1 (was {policy.MaxEntries}).");
        }

        if (policy.MaxBytes < policy.MaximumBodySize)
        {
            errors.Add($"{path}:MaxBytes must be at least MaximumBodySize ({policy.MaximumBodySize}) (was {policy.MaxBytes}).");
        }

        for (var i = 0; i < policy.StatusCodes.Count; i++)
        {
            var code = policy.StatusCodes[i];
            if (code is < 200 or > 599 or 206 or 304)
            {
                errors.Add($"{path}:StatusCodes:{i} must be a final status code between 200 and 599, not 206 or 304 (was {code}).");
            }
            else if (code >= 500)
            {
                errors.Add($"{path}:StatusCodes:{i}: {code} is a server error; caching it would hide the origin's failures and defeat StaleIfError.");
            }
        }

        CheckNames($"{path}:VaryByHeaderNames", policy.VaryByHeaderNames, errors);
        CheckNames($"{path}:VaryByRouteValueNames", policy.VaryByRouteValueNames, errors);
        CheckNames($"{path}:VaryByClaim", policy.VaryByClaim, errors);
        CheckNames($"{path}:VaryByQueryKeys", policy.VaryByQueryKeys, errors);
        if (policy.VaryByClaim.Count > 0 && !policy.VaryByUser)
        {
            errors.Add($"{path}:VaryByClaim requires VaryByUser: claims exist only for authenticated requests, which a policy caches only when it varies by user.");
        }

        for (var i = 0; i < policy.Tags.Count; i++)
        {
            if (TagTemplate.TryParse(policy.Tags[i], out var error) is null)
            {
                errors.Add($"{path}:Tags:{i} {error}.");
            }
        }
    }

    private static void CheckNames(string path, List<string> names, List<string> errors)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]))
            {
                errors.Add($"{path}:{i} must not be empty.");
            }
        }
    }
}
