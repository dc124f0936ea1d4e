using RedisEdge.Sessions;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Minimal-API counterparts of the RedisEdge session attributes; each adds the same attribute as metadata.</summary>
public static class RedisSessionEndpointConventionBuilderExtensions
{
    private static readonly RequireSessionAttribute RequireSessionMetadata = new();
    private static readonly ReadOnlySessionAttribute ReadOnlyMetadata = new();
    private static readonly DisableSessionAttribute DisableSessionMetadata = new();

    /// <summary>Adds <see cref="RequireSessionAttribute"/>: the endpoint needs a live session.</summary>
    public static TBuilder RequireSession<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
        => Add(builder, RequireSessionMetadata);

    /// <summary>Adds <see cref="ReadOnlySessionAttribute"/>: the endpoint reads the session but never commits it.</summary>
    public static TBuilder WithReadOnlySession<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
        => Add(builder, ReadOnlyMetadata);

    /// <summary>Adds <see cref="DisableSessionAttribute"/>: no session for this endpoint.</summary>
    public static TBuilder DisableSession<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
        => Add(builder, DisableSessionMetadata);

    private static TBuilder Add<TBuilder>(TBuilder builder, object metadata)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
