using RedisEdge.RateLimiting;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Rate-limit metadata for minimal-API endpoints and route groups.</summary>
public static class RedisRateLimitingEndpointConventionBuilderExtensions
{
    /// <summary>Applies the policy <paramref name="policyName"/> (the same <see cref="RateLimitAttribute"/> MVC uses).</summary>
    public static TBuilder RequireRateLimit<TBuilder>(this TBuilder builder, string policyName, int cost = 1)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var attribute = new RateLimitAttribute(policyName) { Cost = cost };
        builder.Add(endpoint => endpoint.Metadata.Add(attribute));
        return builder;
    }

    /// <summary>Turns RedisEdge rate limiting off for the endpoint, whatever other metadata says.</summary>
    public static TBuilder DisableRateLimit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var attribute = new DisableRateLimitAttribute();
        builder.Add(endpoint => endpoint.Metadata.Add(attribute));
        return builder;
    }
}
