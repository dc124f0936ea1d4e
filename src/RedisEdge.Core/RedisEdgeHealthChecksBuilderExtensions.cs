using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RedisEdge.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Health-check registration for RedisEdge's Redis connection.
/// </summary>
public static class RedisEdgeHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check that reports whether Redis answers <c>PING</c> (and its latency) on RedisEdge's connection.
    /// Requires <c>AddRedisEdge</c>.
    /// </summary>
    public static IHealthChecksBuilder AddRedisEdge(this IHealthChecksBuilder builder, string name = "redisedge", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<RedisEdgeHealthCheck.ProbeStates>();
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => ActivatorUtilities.CreateInstance<RedisEdgeHealthCheck>(sp),
            failureStatus,
            tags));
    }
}
