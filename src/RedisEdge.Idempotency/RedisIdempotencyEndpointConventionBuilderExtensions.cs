using RedisEdge.Idempotency;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Idempotency metadata for minimal-API endpoints and route groups.</summary>
public static class RedisIdempotencyEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Makes the endpoint execute once per idempotency key (the same <see cref="IdempotentAttribute"/> MVC uses), with
    /// the named <paramref name="policy"/> or the feature-wide options, and any per-endpoint overrides set by
    /// <paramref name="configure"/>.
    /// </summary>
    public static TBuilder WithIdempotency<TBuilder>(this TBuilder builder, string? policy = null, Action<IdempotentAttribute>? configure = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var attribute = new IdempotentAttribute { Policy = policy };
        configure?.Invoke(attribute);
        builder.Add(endpoint => endpoint.Metadata.Add(attribute));
        return builder;
    }

    /// <summary>Turns idempotency off for the endpoint, whatever other metadata says.</summary>
    public static TBuilder DisableIdempotency<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var attribute = new DisableIdempotencyAttribute();
        builder.Add(endpoint => endpoint.Metadata.Add(attribute));
        return builder;
    }
}
