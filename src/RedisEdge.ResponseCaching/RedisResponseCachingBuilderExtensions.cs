using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
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
        RedisEdgeFeatureRegistration.Add<RedisResponseCachingOptions, RedisResponseCachingOptionsValidator>(
            builder, Guard, RedisResponseCachingDefaults.SectionName, section, configure, static o => o.Failure);
        var services = builder.Services;
        services.AddSingleton<ResponseCachingMetrics>();
        RedisEdgeFeatureRegistration.AddPolicies<RedisResponseCachingOptions, ResponseCachePolicyProvider>(services);
        services.AddSingleton<ResponseCacheKeys>();
        services.AddSingleton<ResponseCacheStore>();
        services.AddSingleton<LookupCoalescer>();
        services.AddSingleton<NearCache>();
        services.AddSingleton<ResponseCacheEvents>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ResponseCacheEvents>());
        services.AddSingleton<IRedisResponseCache, RedisResponseCache>();
        return builder;
    }

    /// <summary>Endpoints that ask for the feature refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "response caching", "app.UseRedisResponseCaching()", "[CacheResponse] or .CacheResponse()",
        static m => m.GetMetadata<CacheResponseAttribute>() is not null && m.GetMetadata<DisableCacheResponseAttribute>() is null,
        "AddResponseCaching",
        RedisResponseCachingDefaults.MeterName);
}
