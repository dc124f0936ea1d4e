using Microsoft.AspNetCore.Http;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Fails start-up when an endpoint names a rate-limit policy that is not defined.</summary>
internal sealed class RateLimitEndpointValidator(
    IServiceProvider services,
    RedisEdgeSectionPath<RedisRateLimitingOptions> section) : RedisEdgeEndpointValidator<RedisRateLimitingOptions>(services, section)
{
    protected override void Validate(Endpoint endpoint, RedisRateLimitingOptions options, bool optionsValid, List<string> errors)
    {
        var policies = options.Policies;
        foreach (var attribute in endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>())
        {
            if (!policies.Keys.Contains(attribute.PolicyName, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' uses rate-limit policy '{attribute.PolicyName}', which is not defined under {SectionPath}:Policies.");
            }
        }
    }
}
