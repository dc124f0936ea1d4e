using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>An HttpClient limited by <c>AddRedisEdgeRateLimiter(policyName)</c> names a policy that exists: checked at start-up.</summary>
internal sealed class HttpClientPolicyValidator(string clientName, string policyName, RedisEdgeSectionPath<RedisRateLimitingOptions> section)
    : IValidateOptions<RedisRateLimitingOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisRateLimitingOptions options) =>
        options.Policies.ContainsKey(policyName)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{section.Path}:Policies:{policyName} is not defined, but the HttpClient '{clientName}' is limited by it (AddRedisEdgeRateLimiter(\"{policyName}\")).");
}
