using Microsoft.AspNetCore.Http;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Fails start-up when an endpoint names a cache policy that is not defined.</summary>
internal sealed class ResponseCacheEndpointValidator(
    IServiceProvider services,
    RedisEdgeSectionPath<RedisResponseCachingOptions> section) : RedisEdgeEndpointValidator<RedisResponseCachingOptions>(services, section)
{
    protected override void Validate(Endpoint endpoint, RedisResponseCachingOptions options, bool optionsValid, List<string> errors)
    {
        if (endpoint.Metadata.GetMetadata<CacheResponseAttribute>() is { } attribute &&
            !options.Policies.Keys.Contains(attribute.PolicyName, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add($"Endpoint '{endpoint.DisplayName}' uses response-cache policy '{attribute.PolicyName}', which is not defined under {SectionPath}:Policies.");
        }
    }
}
