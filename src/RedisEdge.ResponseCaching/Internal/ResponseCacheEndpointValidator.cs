using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Fails start-up when an endpoint names a cache policy that is not defined.</summary>
internal sealed class ResponseCacheEndpointValidator(
    IOptionsMonitor<RedisResponseCachingOptions> options,
    RedisEdgeSectionPath<RedisResponseCachingOptions> section) : RedisEdgeEndpointValidator<RedisResponseCachingOptions>(section)
{
    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        if (endpoint.Metadata.GetMetadata<CacheResponseAttribute>() is { } attribute &&
            !options.CurrentValue.Policies.Keys.Contains(attribute.PolicyName, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add($"Endpoint '{endpoint.DisplayName}' uses response-cache policy '{attribute.PolicyName}', which is not defined under {SectionPath}:Policies.");
        }
    }
}
