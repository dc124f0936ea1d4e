using RedisEdge;

namespace OpenTelemetry.Trace;

/// <summary>
/// Subscribes an OpenTelemetry <see cref="TracerProviderBuilder"/> to RedisEdge's activity sources.
/// </summary>
public static class RedisEdgeTracerProviderBuilderExtensions
{
    /// <summary>
    /// Adds every RedisEdge activity source (<see cref="RedisEdgeTelemetryNames.All"/>): one client span per
    /// Redis script call with <c>db.system=redis</c>.
    /// </summary>
    public static TracerProviderBuilder AddRedisEdgeInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource([.. RedisEdgeTelemetryNames.All]);
    }
}
