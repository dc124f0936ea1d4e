using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Fails start-up when an endpoint names a rate-limit policy that is not defined.</summary>
internal sealed class RateLimitEndpointValidator(
    IOptionsMonitor<RedisRateLimitingOptions> options,
    RedisEdgeSectionPath<RedisRateLimitingOptions> section) : RedisEdgeEndpointValidator<RedisRateLimitingOptions>(section)
{
    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        var policies = options.CurrentValue.Policies;
        foreach (var attribute in endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>())
        {
            if (!policies.Keys.Contains(attribute.PolicyName, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' uses rate-limit policy '{attribute.PolicyName}', which is not defined under {SectionPath}:Policies.");
            }
        }
    }
}
