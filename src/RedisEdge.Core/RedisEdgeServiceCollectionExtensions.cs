using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisEdge;
using RedisEdge.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers RedisEdge's shared services: the Redis connection, key builder and telemetry.
/// </summary>
public static class RedisEdgeServiceCollectionExtensions
{
    /// <summary>
    /// Adds RedisEdge configured from the application's <c>RedisEdge</c> configuration section.
    /// </summary>
    public static IRedisEdgeBuilder AddRedisEdge(this IServiceCollection services)
        => AddRedisEdgeCore(services, configuration: null, configure: null);

    /// <summary>
    /// Adds RedisEdge configured from the application's <c>RedisEdge</c> section, then <paramref name="configure"/>.
    /// </summary>
    public static IRedisEdgeBuilder AddRedisEdge(this IServiceCollection services, Action<RedisEdgeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddRedisEdgeCore(services, configuration: null, configure);
    }

    /// <summary>
    /// Adds RedisEdge configured from <paramref name="configuration"/>; features read their sub-sections of it
    /// (<c>RateLimiting</c>, <c>Sessions</c>, ...).
    /// </summary>
    public static IRedisEdgeBuilder AddRedisEdge(this IServiceCollection services, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddRedisEdgeCore(services, configuration, configure: null);
    }

    private static RedisEdgeBuilder AddRedisEdgeCore(IServiceCollection services, IConfigurationSection? configuration, Action<RedisEdgeOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new RedisEdgeBuilder(services, configuration);
        if (services.Any(d => d.ServiceType == typeof(RedisEdgeMarker)))
        {
            throw new InvalidOperationException("AddRedisEdge was called twice. Call it once and chain the features on the builder it returns.");
        }

        services.AddSingleton<RedisEdgeMarker>();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        var options = RedisEdgeConfiguration.BindSection<RedisEdgeOptions>(builder, name: string.Empty);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton<IValidateOptions<RedisEdgeOptions>, RedisEdgeOptionsValidator>();
        services.AddSingleton<RedisEdgeStartupReport>();
        services.AddSingleton<IStartupFilter, RedisEdgeStartupFilter>();
        services.TryAddSingleton<RedisEdgeConnection>();
        RedisEdgeHostedService<RedisEdgeConnectionStarter>.Register(services);
        services.TryAddSingleton<RedisKeyBuilder>();
        return builder;
    }

    /// <summary>Marks that <c>AddRedisEdge</c> ran, so features can say so when it did not.</summary>
    internal sealed class RedisEdgeMarker;
}
