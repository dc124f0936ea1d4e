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
    public static IRedisEdgeBuilder AddRateLimiting(this IRedisEdgeBuilder builder) => Feature.Add(builder);

    /// <summary>Adds rate limiting configured from <c>RedisEdge:RateLimiting</c>, then <paramref name="configure"/>
    /// (which may add policies in code).</summary>
    public static IRedisEdgeBuilder AddRateLimiting(this IRedisEdgeBuilder builder, Action<RedisRateLimitingOptions> configure) => Feature.Add(builder, configure);

    /// <summary>Adds rate limiting configured from <paramref name="configuration"/>, reloaded when it changes.</summary>
    public static IRedisEdgeBuilder AddRateLimiting(this IRedisEdgeBuilder builder, IConfigurationSection configuration) => Feature.Add(builder, configuration);

    /// <summary>The feature as Core registers it; endpoints that ask for it refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeFeature<RedisRateLimitingOptions> Feature = new(
        new RedisEdgeGuardedFeature("rate limiting", "app.UseRedisRateLimiting()", "[RateLimit], .RequireRateLimit() or [EnableRateLimiting]",
            static (services, m) => (m.GetMetadata<RateLimitAttribute>() is not null || m.GetMetadata<Microsoft.AspNetCore.RateLimiting.EnableRateLimitingAttribute>() is not null) &&
                !RateLimitDeclarations.IsDisabled(m) && !RateLimitDeclarations.LeftToFirstParty(m, services),
            "AddRateLimiting",
            RedisRateLimitingDefaults.MeterName),
        RedisRateLimitingDefaults.SectionName,
        static o => o.Failure,
        static services => services
            .AddValidator<RedisRateLimitingOptions, RedisRateLimitingOptionsValidator>()
            .AddSingleton<RateLimitingMetrics>()
            .AddSingleton<LocalDenyCache>()
            .AddSingleton<LocalFallbackLimiter>()
            .AddPolicies<RedisRateLimitingOptions, RateLimitPolicyProvider, RateLimitEndpointValidator>()
            .AddSingleton<RedisRateLimiter>()
            .AddSingleton<LocalDenyRule>()
            .AddSingleton<FirstPartyRateLimiting>()
            .AddSingleton<IRedisEdgeEndpointCheck, FirstPartyPolicyCheck>()
            .AddSingleton<RedisRateLimiterFactory>()
            .AddSingleton<IRedisRateLimiterFactory>(sp => sp.GetRequiredService<RedisRateLimiterFactory>()));
}
