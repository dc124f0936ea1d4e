using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RedisEdge;
using RedisEdge.Internal;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers RedisEdge response caching on the builder returned by <c>AddRedisEdge</c>.</summary>
public static class RedisResponseCachingBuilderExtensions
{
    /// <summary>Adds response caching configured from <c>RedisEdge:ResponseCaching</c>.</summary>
    public static IRedisEdgeBuilder AddResponseCaching(this IRedisEdgeBuilder builder)
        => AddResponseCachingCore(builder, section: null, configure: null);

    /// <summary>Adds response caching configured from <c>RedisEdge:ResponseCaching</c>, then <paramref name="configure"/>
    /// (which may add policies in code).</summary>
    public static IRedisEdgeBuilder AddResponseCaching(this IRedisEdgeBuilder builder, Action<RedisResponseCachingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddResponseCachingCore(builder, section: null, configure);
    }

    /// <summary>Adds response caching configured from <paramref name="configuration"/>, reloaded when it changes.</summary>
    public static IRedisEdgeBuilder AddResponseCaching(this IRedisEdgeBuilder builder, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddResponseCachingCore(builder, configuration, configure: null);
    }

    private static IRedisEdgeBuilder AddResponseCachingCore(IRedisEdgeBuilder builder, IConfigurationSection? section, Action<RedisResponseCachingOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(ResponseCachingMarker)))
        {
            throw new InvalidOperationException("AddResponseCaching was called twice. Call it once; add policies in configuration or in its configure delegate.");
        }

        services.AddSingleton<ResponseCachingMarker>();
        RedisEdgeMiddlewareGuard.Register(services, Guard);
        var options = RedisEdgeConfiguration.BindSection<RedisResponseCachingOptions>(builder, RedisResponseCachingDefaults.SectionName, section);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton<IValidateOptions<RedisResponseCachingOptions>, RedisResponseCachingOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new ResponseCachingSection(section ?? RedisEdgeConfiguration.GetSection(builder, sp, RedisResponseCachingDefaults.SectionName)));
        services.AddSingleton<ResponseCachingMetrics>();
        services.AddSingleton<ResponseCachePolicyProvider>();
        services.AddSingleton<ResponseCacheKeys>();
        services.AddSingleton<ResponseCacheStore>();
        services.AddSingleton<LookupCoalescer>();
        services.AddSingleton<NearCache>();
        RedisEdgeHostedService<ResponseCacheEvents>.Register(services);
        services.AddSingleton<IRedisResponseCache, RedisResponseCache>();
        services.AddSingleton<IRedisEdgeEndpointCheck, ResponseCacheEndpointValidator>();
        return builder;
    }

    /// <summary>Endpoints that ask for the feature refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "response caching", "app.UseRedisResponseCaching()", "[CacheResponse] or .CacheResponse()",
        static m => m.GetMetadata<CacheResponseAttribute>() is not null && m.GetMetadata<DisableCacheResponseAttribute>() is null);

    /// <summary>Marks that <c>AddResponseCaching</c> ran, so <c>UseRedisResponseCaching</c> can say when it did not.</summary>
    internal sealed class ResponseCachingMarker;
}
