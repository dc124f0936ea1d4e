using Microsoft.Extensions.Configuration;
using RedisEdge;
using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers RedisEdge rate limiting on the builder returned by <c>AddRedisEdge</c>.</summary>
public static class RedisRateLimitingBuilderExtensions
{
    /// <summary>Adds rate limiting configured from <c>RedisEdge:RateLimiting</c>.</summary>
    public static IRedisEdgeBuilder AddRateLimiting(this IRedisEdgeBuilder builder)
        => AddRateLimitingCore(builder, section: null, configure: null);

    /// <summary>Adds rate limiting configured from <c>RedisEdge:RateLimiting</c>, then <paramref name="configure"/>
    /// (which may add policies in code).</summary>
    public static IRedisEdgeBuilder AddRateLimiting(this IRedisEdgeBuilder builder, Action<RedisRateLimitingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddRateLimitingCore(builder, section: null, configure);
    }

    /// <summary>Adds rate limiting configured from <paramref name="configuration"/>, reloaded when it changes.</summary>
    public static IRedisEdgeBuilder AddRateLimiting(this IRedisEdgeBuilder builder, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddRateLimitingCore(builder, configuration, configure: null);
    }

    private static IRedisEdgeBuilder AddRateLimitingCore(IRedisEdgeBuilder builder, IConfigurationSection? section, Action<RedisRateLimitingOptions>? configure)
    {
        RedisEdgeFeatureRegistration.Add<RedisRateLimitingOptions, RedisRateLimitingOptionsValidator>(
            builder, Guard, RedisRateLimitingDefaults.SectionName, section, configure, static o => o.Failure);
        var services = builder.Services;
        services.AddSingleton<RateLimitingMetrics>();
        services.AddSingleton<LocalDenyCache>();
        services.AddSingleton<LocalFallbackLimiter>();
        RedisEdgeFeatureRegistration.AddPolicies<RedisRateLimitingOptions, RateLimitPolicyProvider>(services);
        services.AddSingleton<RedisRateLimiter>();
        return builder;
    }

    /// <summary>Endpoints that ask for the feature refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "rate limiting", "app.UseRedisRateLimiting()", "[RateLimit] or .RequireRateLimit()",
        static m => m.GetMetadata<RateLimitAttribute>() is not null && m.GetMetadata<DisableRateLimitAttribute>() is null &&
            m.GetMetadata<Microsoft.AspNetCore.RateLimiting.DisableRateLimitingAttribute>() is null,
        "AddRateLimiting",
        RedisRateLimitingDefaults.MeterName);
}
