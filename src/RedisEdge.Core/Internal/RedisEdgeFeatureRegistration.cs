using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// The one way a feature registers itself and adds its middleware: every <c>Add…</c> on the RedisEdge builder and
/// every <c>UseRedis…</c> is a call to <see cref="Add{TOptions, TValidator}"/> and <see cref="Use{TOptions, TMiddleware}"/>,
/// so the "called twice" and "never called" guards, the section binding, validation on start, the middleware guard
/// and the failure responder are the same for all of them.
/// </summary>
internal static class RedisEdgeFeatureRegistration
{
    /// <summary>
    /// Registers <paramref name="feature"/>: its marker (refusing a second call), the middleware guard, its options
    /// bound to <paramref name="section"/> or <c>RedisEdge:<paramref name="sectionName"/></c> with reload, then
    /// <paramref name="configure"/>, validated on start by <typeparamref name="TValidator"/>, the section itself for
    /// checks the binder cannot make (<see cref="RedisEdgeSection{TOptions}"/>), and its
    /// <see cref="RedisEdgeFailureResponder{TOptions}"/>. The feature then adds its own services.
    /// </summary>
    public static OptionsBuilder<TOptions> Add<TOptions, TValidator>(
        IRedisEdgeBuilder builder,
        RedisEdgeGuardedFeature feature,
        string sectionName,
        IConfigurationSection? section,
        Action<TOptions>? configure,
        Func<TOptions, RedisFailurePolicyOptions?> failure)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(RedisEdgeFeatureMarker<TOptions>)))
        {
            throw new InvalidOperationException(
                $"{feature.AddMethod} was called twice. Call it once; add policies in configuration or in its configure delegate.");
        }

        services.AddSingleton<RedisEdgeFeatureMarker<TOptions>>();
        RedisEdgeMiddlewareGuard.Register(services, feature);
        var options = RedisEdgeConfiguration.BindSection<TOptions>(builder, sectionName, section);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
        services.AddSingleton(sp => new RedisEdgeSection<TOptions>(section ?? RedisEdgeConfiguration.GetSection(builder, sp, sectionName)));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<RedisEdgeFailureResponder<TOptions>>(sp, feature, failure));
        return options;
    }

    /// <summary>
    /// Registers a feature's policy provider (also as Core's <see cref="RedisEdgePolicyProvider{TOptions}"/>) and the
    /// start-up check of its endpoints, <typeparamref name="TValidator"/>.
    /// </summary>
    public static void AddPolicies<TOptions, TProvider, TValidator>(IServiceCollection services)
        where TOptions : class
        where TProvider : RedisEdgePolicyProvider<TOptions>
        where TValidator : RedisEdgeEndpointValidator<TOptions>
    {
        services.AddSingleton<TProvider>();
        services.AddSingleton<RedisEdgePolicyProvider<TOptions>>(sp => sp.GetRequiredService<TProvider>());
        services.AddSingleton<IStartupFilter, TValidator>();
    }

    /// <summary>As <see cref="AddPolicies{TOptions, TProvider, TValidator}"/>, with Core's endpoint check alone.</summary>
    public static void AddPolicies<TOptions, TProvider>(IServiceCollection services)
        where TOptions : class
        where TProvider : RedisEdgePolicyProvider<TOptions>
        => AddPolicies<TOptions, TProvider, RedisEdgeEndpointValidator<TOptions>>(services);

    /// <summary>
    /// Adds <typeparamref name="TMiddleware"/> after the step that tells the middleware guard it runs; throws when the
    /// feature's <c>Add…</c> was never called.
    /// </summary>
    public static IApplicationBuilder Use<TOptions, TMiddleware>(IApplicationBuilder app, RedisEdgeGuardedFeature feature)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<RedisEdgeFeatureMarker<TOptions>>() is null)
        {
            throw new InvalidOperationException(
                $"{feature.UseMethod} requires the {feature.Name} services: call services.AddRedisEdge(...).{feature.AddMethod}(...) first.");
        }

        RedisEdgeMiddlewareGuard.UsePass(app, feature);
        return app.UseMiddleware<TMiddleware>();
    }
}

/// <summary>Marks that a feature's <c>Add…</c> ran (one per options type), so its <c>Use…</c> can say when it did not.</summary>
internal sealed class RedisEdgeFeatureMarker<TOptions>
    where TOptions : class;

/// <summary>The configuration section a feature binds, for checks the binder cannot make.</summary>
internal sealed record RedisEdgeSection<TOptions>(IConfigurationSection Section)
    where TOptions : class;
