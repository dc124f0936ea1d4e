using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge;

/// <summary>
/// Returned by <c>AddRedisEdge</c>; RedisEdge features register themselves on it
/// (<c>AddRateLimiting</c>, <c>AddSessions</c>, ...).
/// </summary>
public interface IRedisEdgeBuilder
{
    /// <summary>The application's service collection.</summary>
    IServiceCollection Services { get; }

    /// <summary>
    /// The configuration section passed to <c>AddRedisEdge(IConfigurationSection)</c>, or <see langword="null"/>
    /// when RedisEdge reads the <c>RedisEdge</c> section of the application's configuration.
    /// </summary>
    IConfigurationSection? Configuration { get; }
}
