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
    public static IRedisEdgeBuilder AddResponseCaching(this IRedisEdgeBuilder builder) => Feature.Add(builder);

    /// <summary>Adds response caching configured from <c>RedisEdge:ResponseCaching</c>, then <paramref name="configure"/>
    /// (which may add policies in code).</summary>
    public static IRedisEdgeBuilder AddResponseCaching(this IRedisEdgeBuilder builder, Action<RedisResponseCachingOptions> configure) => Feature.Add(builder, configure);

    /// <summary>Adds response caching configured from <paramref name="configuration"/>, reloaded when it changes.</summary>
    public static IRedisEdgeBuilder AddResponseCaching(this IRedisEdgeBuilder builder, IConfigurationSection configuration) => Feature.Add(builder, configuration);

    /// <summary>The feature as Core registers it; endpoints that ask for it refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeFeature<RedisResponseCachingOptions> Feature = new(
        new RedisEdgeGuardedFeature("response caching", "app.UseRedisResponseCaching()", "[CacheResponse] or .CacheResponse()",
            static m => m.GetMetadata<CacheResponseAttribute>() is not null && m.GetMetadata<DisableResponseCachingAttribute>() is null,
            "AddResponseCaching",
            RedisResponseCachingDefaults.MeterName),
        RedisResponseCachingDefaults.SectionName,
        static o => o.Failure,
        static services => services
            .AddValidator<RedisResponseCachingOptions, RedisResponseCachingOptionsValidator>()
            .AddSingleton<ResponseCachingMetrics>()
            .AddPolicies<RedisResponseCachingOptions, ResponseCachePolicyProvider, ResponseCacheEndpointValidator>()
            .AddSingleton<ResponseCacheKeys>()
            .AddSingleton<ResponseCacheStore>()
            .AddSingleton<LookupCoalescer>()
            .AddSingleton<NearCache>()
            .AddGatedHostedService<ResponseCacheEvents>()
            .AddSingleton<IRedisResponseCache, RedisResponseCache>());
}
