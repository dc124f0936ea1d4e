using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
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
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(RateLimitingMarker)))
        {
            throw new InvalidOperationException("AddRateLimiting was called twice. Call it once; add policies in configuration or in its configure delegate.");
        }

        services.AddSingleton<RateLimitingMarker>();
        RedisEdgeMiddlewareGuard.Register(services, Guard);
        var options = RedisEdgeConfiguration.BindSection<RedisRateLimitingOptions>(builder, RedisRateLimitingDefaults.SectionName, section);

        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton<IValidateOptions<RedisRateLimitingOptions>, RedisRateLimitingOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<RateLimitingMetrics>();
        services.AddSingleton<LocalDenyCache>();
        services.AddSingleton<LocalFallbackLimiter>();
        services.AddSingleton<RateLimitPolicyProvider>();
        services.AddSingleton<RedisRateLimiter>();
        services.AddSingleton<IRedisEdgeEndpointCheck, RateLimitEndpointValidator>();
        services.AddSingleton(sp => new RateLimitingSection(section ?? RedisEdgeConfiguration.GetSection(builder, sp, RedisRateLimitingDefaults.SectionName)));
        return builder;
    }

    /// <summary>Endpoints that ask for the feature refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "rate limiting", "app.UseRedisRateLimiting()", "[RateLimit] or .RequireRateLimit()",
        static m => m.GetMetadata<RateLimitAttribute>() is not null && m.GetMetadata<DisableRateLimitAttribute>() is null &&
            m.GetMetadata<Microsoft.AspNetCore.RateLimiting.DisableRateLimitingAttribute>() is null);

    /// <summary>Marks that <c>AddRateLimiting</c> ran, so <c>UseRedisRateLimiting</c> can say when it did not.</summary>
    internal sealed class RateLimitingMarker;
}
