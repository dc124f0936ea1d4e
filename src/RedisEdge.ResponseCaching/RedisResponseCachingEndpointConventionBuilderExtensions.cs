using RedisEdge.ResponseCaching;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Response-caching metadata for minimal-API endpoints and route groups.</summary>
public static class RedisResponseCachingEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Caches responses with the policy <paramref name="policyName"/> (the same <see cref="CacheResponseAttribute"/> MVC
    /// uses), fresh for <paramref name="duration"/> seconds when it is not 0 (the policy's <c>Expire</c>).
    /// </summary>
    public static TBuilder CacheResponse<TBuilder>(this TBuilder builder, string policyName, int duration = 0)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var attribute = new CacheResponseAttribute(policyName) { Duration = duration };
        builder.Add(endpoint => endpoint.Metadata.Add(attribute));
        return builder;
    }

    /// <summary>Turns RedisEdge response caching off for the endpoint, whatever other metadata says.</summary>
    public static TBuilder DisableResponseCaching<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var attribute = new DisableResponseCachingAttribute();
        builder.Add(endpoint => endpoint.Metadata.Add(attribute));
        return builder;
    }
}
