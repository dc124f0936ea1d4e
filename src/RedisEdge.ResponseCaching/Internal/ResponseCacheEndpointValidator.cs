using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Core's start-up check of endpoints (an undefined policy fails start-up), plus: an invalid duration fails it, and so
/// does first-party Output Caching metadata (<c>[OutputCache]</c>, <c>.CacheOutput()</c>) while Output Caching is not
/// registered: such an endpoint would silently be uncached. The errors go to Core's start-up report.
/// </summary>
internal sealed class ResponseCacheEndpointValidator(
    IServiceProvider provider,
    RedisEdgeSectionPath<RedisResponseCachingOptions> section,
    IServiceProviderIsService services) : RedisEdgeEndpointValidator<RedisResponseCachingOptions>(provider, section)
{
    private static readonly int MaxDurationSeconds = (int)TimeSpan.FromDays(366).TotalSeconds;

    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        base.Validate(endpoint, errors);
        if (endpoint.Metadata.GetMetadata<CacheResponseAttribute>() is { } attribute &&
            (attribute.Duration < 0 || attribute.Duration > MaxDurationSeconds))
        {
            errors.Add($"Endpoint '{endpoint.DisplayName}' [CacheResponse(\"{attribute.PolicyName}\")] has Duration {attribute.Duration}; it must be " +
                $"between 1 and {MaxDurationSeconds} seconds (366 days), or 0 for the policy's Expire.");
        }

        if ((endpoint.Metadata.GetMetadata<OutputCacheAttribute>() is not null || endpoint.Metadata.GetMetadata<IOutputCachePolicy>() is not null) &&
            !services.IsService(typeof(IOutputCacheStore)))
        {
            errors.Add($"Endpoint '{endpoint.DisplayName}' carries Output Caching metadata ([OutputCache] or .CacheOutput()), but only RedisEdge response " +
                "caching is registered (AddOutputCache() is not), so it would never be cached. Use [CacheResponse(\"policy\")] or " +
                $".CacheResponse(\"policy\") with a policy under {SectionPath}:Policies, or register AddOutputCache() and UseOutputCache().");
        }
    }
}
