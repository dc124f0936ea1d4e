using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// A feature as Core registers it: every <c>Add…</c> overload on the RedisEdge builder and every <c>UseRedis…</c> is a
/// call to <see cref="Add(IRedisEdgeBuilder)"/> (or an overload) and <see cref="Use{TMiddleware}"/> on the feature's one
/// instance, so the "called twice" and "never called" guards, the section binding, the start-up check of its options
/// (reported with every other start-up error by <see cref="RedisEdgeStartupReport"/>), the middleware guard and the
/// failure responder are the same for every feature. The feature fills in only its own services.
/// </summary>
/// <param name="guard">The feature's name, calls and metadata, and what the middleware guard enforces.</param>
/// <param name="sectionName">The feature's section under <c>RedisEdge</c> (<c>RateLimiting</c>).</param>
/// <param name="failure">The feature's failure policy in an options snapshot.</param>
/// <param name="services">Registers the feature's own services: its options validator first, then the rest.</param>
internal sealed class RedisEdgeFeature<TOptions>(
    RedisEdgeGuardedFeature guard,
    string sectionName,
    Func<TOptions, RedisFailurePolicyOptions?> failure,
    Action<IServiceCollection> services)
    where TOptions : class
{
    public RedisEdgeGuardedFeature Guard => guard;

    /// <summary>Adds the feature configured from <c>RedisEdge:&lt;section&gt;</c>.</summary>
    public IRedisEdgeBuilder Add(IRedisEdgeBuilder builder) => Add(builder, section: null, configure: null);

    /// <summary>Adds the feature configured from <c>RedisEdge:&lt;section&gt;</c>, then <paramref name="configure"/>.</summary>
    public IRedisEdgeBuilder Add(IRedisEdgeBuilder builder, Action<TOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Add(builder, section: null, configure);
    }

    /// <summary>Adds the feature configured from <paramref name="configuration"/> instead of its section.</summary>
    public IRedisEdgeBuilder Add(IRedisEdgeBuilder builder, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Add(builder, configuration, configure: null);
    }

    /// <summary>
    /// Adds <typeparamref name="TMiddleware"/> after the step that tells the middleware guard it runs; throws when the
    /// feature's <c>Add…</c> was never called.
    /// </summary>
    public IApplicationBuilder Use<TMiddleware>(IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<RedisEdgeFeatureMarker<TOptions>>() is null)
        {
            throw new InvalidOperationException(
                $"{guard.UseMethod} requires the {guard.Name} services: call services.AddRedisEdge(...).{guard.AddMethod}(...) first.");
        }

        RedisEdgeMiddlewareGuard.UsePass(app, guard);
        return app.UseMiddleware<TMiddleware>();
    }

    /// <summary>
    /// Registers the marker (refusing a second call), the middleware guard, the options bound to
    /// <paramref name="section"/> or <c>RedisEdge:&lt;section&gt;</c> with reload, then <paramref name="configure"/>,
    /// checked at start-up by <see cref="RedisEdgeStartupReport"/> (not <c>ValidateOnStart</c>, which would fail before
    /// the endpoints exist and with this feature's errors alone), the section itself for checks the binder cannot make (<see cref="RedisEdgeSection{TOptions}"/>),
    /// the <see cref="RedisEdgeFailureResponder{TOptions}"/>, and last the feature's own services.
    /// </summary>
    private IRedisEdgeBuilder Add(IRedisEdgeBuilder builder, IConfigurationSection? section, Action<TOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var collection = builder.Services;
        if (collection.Any(d => d.ServiceType == typeof(RedisEdgeFeatureMarker<TOptions>)))
        {
            throw new InvalidOperationException(
                $"{guard.AddMethod} was called twice. Call it once; add policies in configuration or in its configure delegate.");
        }

        collection.AddSingleton<RedisEdgeFeatureMarker<TOptions>>();
        RedisEdgeMiddlewareGuard.Register(collection, guard);
        var options = RedisEdgeConfiguration.BindSection<TOptions>(builder, sectionName, section);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        collection.AddSingleton(sp => new RedisEdgeSection<TOptions>(section ?? RedisEdgeConfiguration.GetSection(builder, sp, sectionName)));
        collection.TryAddSingleton(TimeProvider.System);
        collection.AddSingleton(sp => ActivatorUtilities.CreateInstance<RedisEdgeFailureResponder<TOptions>>(sp, guard, failure));
        services(collection);
        return builder;
    }
}

/// <summary>Marks that a feature's <c>Add…</c> ran (one per options type), so its <c>Use…</c> can say when it did not.</summary>
internal sealed class RedisEdgeFeatureMarker<TOptions>
    where TOptions : class;

/// <summary>The configuration section a feature binds, for checks the binder cannot make.</summary>
internal sealed record RedisEdgeSection<TOptions>(IConfigurationSection Section)
    where TOptions : class;
