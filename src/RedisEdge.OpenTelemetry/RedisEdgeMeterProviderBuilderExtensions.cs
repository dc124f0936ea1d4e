using RedisEdge;

namespace OpenTelemetry.Metrics;

/// <summary>
/// Subscribes an OpenTelemetry <see cref="MeterProviderBuilder"/> to RedisEdge's meters.
/// </summary>
public static class RedisEdgeMeterProviderBuilderExtensions
{
    /// <summary>
    /// Adds every RedisEdge meter (<see cref="RedisEdgeTelemetryNames.All"/>): script durations and failures,
    /// and each feature's own instruments.
    /// </summary>
    public static MeterProviderBuilder AddRedisEdgeInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter([.. RedisEdgeTelemetryNames.All]);
    }
}
