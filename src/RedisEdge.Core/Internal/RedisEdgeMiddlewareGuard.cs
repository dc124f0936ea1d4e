using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace RedisEdge.Internal;

/// <summary>
/// A feature whose endpoint metadata means nothing unless its middleware runs for the request: <c>[Idempotent]</c>
/// without <c>UseRedisIdempotency()</c> would run a payment twice, <c>[RateLimit]</c> without
/// <c>UseRedisRateLimiting()</c> would limit nothing. Registered by the feature's <c>Add…</c>.
/// </summary>
/// <param name="name">The feature, as users know it ("idempotency").</param>
/// <param name="useMethod">The call that adds the middleware, for the error message ("app.UseRedisIdempotency()").</param>
/// <param name="metadata">How endpoints ask for the feature, for the error message ("[Idempotent] or .WithIdempotency()").</param>
/// <param name="requires">Whether an endpoint's metadata asks for the feature (its disable marker taken into account),
/// given the app's services (rate limiting leaves names the first-party limiter owns to it).</param>
/// <param name="addMethod">The builder call that registers the feature, for error messages ("AddIdempotency").</param>
/// <param name="meterName">The feature's meter (and activity source), where Core's per-feature instruments go.</param>
internal sealed class RedisEdgeGuardedFeature(string name, string useMethod, string metadata, Func<IServiceProvider, EndpointMetadataCollection, bool> requires, string addMethod, string meterName)
{
    public RedisEdgeGuardedFeature(string name, string useMethod, string metadata, Func<EndpointMetadataCollection, bool> requires, string addMethod, string meterName)
        : this(name, useMethod, metadata, (_, m) => requires(m), addMethod, meterName)
    {
    }

    public string MeterName => meterName;

    public string Name => name;

    public string UseMethod => useMethod;

    public string AddMethod => addMethod;

    public bool Requires(Endpoint endpoint, IServiceProvider services) => requires(services, endpoint.Metadata);

    public InvalidOperationException NotInvoked(Endpoint endpoint) => new(
        $"Endpoint {endpoint.DisplayName} asks for RedisEdge {name} ({metadata}), but the {name} middleware did not run for this " +
        $"request, so the endpoint would run unprotected. Call {useMethod} after UseRouting() (when UseRouting() is called " +
        "explicitly) and before the endpoints are mapped, in every branch of the pipeline that reaches this endpoint.");
}

/// <summary>
/// Refuses to run an endpoint whose RedisEdge metadata needs a middleware that did not run for the request (never
/// added, placed before an explicit <c>UseRouting()</c>, or on another pipeline branch), as ASP.NET Core's
/// <c>EndpointMiddleware</c> does for authorization and CORS metadata: the request fails with an
/// <see cref="InvalidOperationException"/> naming the endpoint and the missing call, instead of running unguarded.
/// </summary>
/// <remarks>
/// <para>
/// A matcher policy, so it covers every kind of endpoint (MVC actions, minimal APIs, Razor Pages, plain
/// <see cref="RequestDelegate"/>s) with no convention to remember. Once routing selects an endpoint that asks for
/// features, it is swapped for a twin with the same route, order, metadata and name whose delegate throws. Each
/// feature's middleware calls <see cref="Pass"/>, which swaps the twin for the one that no longer needs that feature;
/// once every feature has passed, the request holds the original endpoint again and runs it.
/// </para>
/// <para>
/// Per request this costs one table lookup per feature, and no allocation: the twins (one per subset of an endpoint's
/// features) are built once per endpoint. Endpoints without RedisEdge metadata are never touched (the policy does not
/// apply to them, so the matcher does not call it).
/// </para>
/// </remarks>
internal sealed class RedisEdgeMiddlewareGuard(IEnumerable<RedisEdgeGuardedFeature> features, IServiceProvider services) : MatcherPolicy, IEndpointSelectorPolicy
{
    private readonly RedisEdgeGuardedFeature[] _features = [.. features.DistinctBy(f => f.Name)];

    // Original endpoint -> the twin routing hands out (the original itself when it needs no feature).
    private readonly ConditionalWeakTable<Endpoint, Endpoint> _guarded = [];

    // Twin -> its place in the family of twins of one original endpoint.
    private readonly ConditionalWeakTable<Endpoint, Twin> _twins = [];

    /// <summary>Adds the guard (once) and <paramref name="feature"/> to the features it enforces.</summary>
    public static void Register(IServiceCollection services, RedisEdgeGuardedFeature feature)
    {
        services.AddSingleton(feature);
        services.TryAddSingleton<RedisEdgeMiddlewareGuard>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, RedisEdgeMiddlewareGuard>(sp => sp.GetRequiredService<RedisEdgeMiddlewareGuard>()));
    }

    /// <summary>
    /// Adds, right before a feature's middleware, the step that tells the guard the feature runs for the request. Once per
    /// <c>Use…</c> call, so it marks exactly the pipeline branches where the middleware is.
    /// </summary>
    public static IApplicationBuilder UsePass(IApplicationBuilder app, RedisEdgeGuardedFeature feature)
    {
        var guard = app.ApplicationServices.GetRequiredService<RedisEdgeMiddlewareGuard>();
        return app.Use(next => context =>
        {
            guard.Pass(context, feature);
            return next(context);
        });
    }

    /// <summary>Last: the endpoint it swaps in is the one every earlier policy already chose.</summary>
    public override int Order => int.MaxValue;

    /// <summary>
    /// Called by <paramref name="feature"/>'s middleware for every request it sees: the request's endpoint no longer
    /// needs that feature. Does nothing for endpoints that never needed it.
    /// </summary>
    public void Pass(HttpContext context, RedisEdgeGuardedFeature feature)
    {
        if (context.GetEndpoint() is { } endpoint && _twins.TryGetValue(endpoint, out var twin))
        {
            var bit = Array.IndexOf(_features, feature);
            if (bit >= 0)
            {
                context.SetEndpoint(twin.Without(bit));
            }
        }
    }

    /// <summary>Whether <paramref name="endpoint"/> is a guarded twin rather than an endpoint of the app (for tests).</summary>
    internal bool IsTwin(Endpoint endpoint) => _twins.TryGetValue(endpoint, out _);

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (Required(endpoint) != 0)
            {
                return true;
            }
        }

        return false;
    }

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        for (var i = 0; i < candidates.Count; i++)
        {
            if (!candidates.IsValidCandidate(i))
            {
                continue;
            }

            ref var candidate = ref candidates[i];
            if (!_guarded.TryGetValue(candidate.Endpoint, out var guarded))
            {
                guarded = _guarded.GetValue(candidate.Endpoint, Guard);
            }

            if (!ReferenceEquals(guarded, candidate.Endpoint))
            {
                candidates.ReplaceEndpoint(i, guarded, candidate.Values);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The features <paramref name="endpoint"/> asks for, one bit each.</summary>
    private int Required(Endpoint endpoint)
    {
        var mask = 0;
        for (var i = 0; i < _features.Length; i++)
        {
            if (_features[i].Requires(endpoint, services))
            {
                mask |= 1 << i;
            }
        }

        return mask;
    }

    /// <summary>The endpoint itself when it needs no feature (or has no delegate); otherwise its fully guarded twin,
    /// with the twins for every subset of its features built beside it.</summary>
    private Endpoint Guard(Endpoint endpoint)
    {
        var required = Required(endpoint);
        if (required == 0 || endpoint.RequestDelegate is null)
        {
            return endpoint;
        }

        var family = new Endpoint[required + 1];
        family[0] = endpoint;
        for (var mask = 1; mask <= required; mask++)
        {
            if ((mask & required) == mask)
            {
                family[mask] = Twin.Create(this, endpoint, mask, family);
            }
        }

        return family[required];
    }

    private sealed class Twin(Endpoint[] family, int mask)
    {
        /// <summary>The twin of the same endpoint that needs one feature fewer (the original once none is left).</summary>
        public Endpoint Without(int bit) => family[mask & ~(1 << bit)];

        public static Endpoint Create(RedisEdgeMiddlewareGuard guard, Endpoint original, int mask, Endpoint[] family)
        {
            var missing = guard._features[System.Numerics.BitOperations.TrailingZeroCount(mask)];
            RequestDelegate refuse = _ => throw missing.NotInvoked(original);
            Endpoint twin = original is RouteEndpoint route
                ? new RouteEndpoint(refuse, route.RoutePattern, route.Order, route.Metadata, route.DisplayName)
                : new Endpoint(refuse, original.Metadata, original.DisplayName);
            guard._twins.Add(twin, new Twin(family, mask));
            return twin;
        }
    }
}
