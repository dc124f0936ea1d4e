using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>Registrations a feature makes from its <see cref="RedisEdgeFeature{TOptions}"/> services step.</summary>
internal static class RedisEdgeFeatureRegistration
{
    /// <summary>Registers the feature's options validator.</summary>
    public static IServiceCollection AddValidator<TOptions, TValidator>(this IServiceCollection services)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
        => services.AddSingleton<IValidateOptions<TOptions>, TValidator>();

    /// <summary>
    /// Registers a feature's policy provider (also as Core's <see cref="RedisEdgePolicyProvider{TOptions}"/>) and the
    /// start-up check of its endpoints, <typeparamref name="TValidator"/>, which reports into
    /// <see cref="RedisEdgeStartupReport"/> with every other start-up error.
    /// </summary>
    public static IServiceCollection AddPolicies<TOptions, TProvider, TValidator>(this IServiceCollection services)
        where TOptions : class
        where TProvider : RedisEdgePolicyProvider<TOptions>
        where TValidator : RedisEdgeEndpointValidator<TOptions>
    {
        services.AddSingleton<TProvider>();
        services.AddSingleton<RedisEdgePolicyProvider<TOptions>>(sp => sp.GetRequiredService<TProvider>());
        return services.AddSingleton<IRedisEdgeEndpointCheck, TValidator>();
    }

    /// <summary>As <see cref="AddPolicies{TOptions, TProvider, TValidator}"/>, with Core's endpoint check alone.</summary>
    public static IServiceCollection AddPolicies<TOptions, TProvider>(this IServiceCollection services)
        where TOptions : class
        where TProvider : RedisEdgePolicyProvider<TOptions>
        => services.AddPolicies<TOptions, TProvider, RedisEdgeEndpointValidator<TOptions>>();

    /// <summary>
    /// Registers a hosted service the feature needs, started only when the configuration is valid
    /// (<see cref="RedisEdgeHostedService{TService}"/>), so a bad configuration is reported whole by the start-up report.
    /// </summary>
    public static IServiceCollection AddGatedHostedService<TService>(this IServiceCollection services)
        where TService : class, IHostedService
        => RedisEdgeHostedService<TService>.Register(services);
}
