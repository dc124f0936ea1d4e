using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Fails start-up when an endpoint's RedisEdge metadata is invalid (it names a policy that is not defined, say),
/// instead of finding out on the endpoint's first request. Every feature with named policies registers one: it refuses
/// an endpoint that names a policy the options do not define, and a feature may say what else is wrong with an
/// endpoint. The errors of every endpoint are reported together, under the feature's configuration path.
/// </summary>
/// <remarks>
/// A startup filter rather than a hosted service: hosted services start before the request pipeline (and so the
/// endpoint data sources) is built; a startup filter runs right after it, still inside the host's start.
/// </remarks>
internal class RedisEdgeEndpointValidator<TOptions>(RedisEdgeSectionPath<TOptions> section, RedisEdgePolicyProvider<TOptions> policies) : IStartupFilter
    where TOptions : class
{
    /// <summary>The feature's configuration section, such as <c>RedisEdge:RateLimiting</c>.</summary>
    protected string SectionPath => section.Path;

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        if (app.ApplicationServices.GetService<EndpointDataSource>() is { } source)
        {
            Validate(source.Endpoints);
        }
    };

    internal void Validate(IReadOnlyList<Endpoint> endpoints)
    {
        var errors = new List<string>();
        foreach (var endpoint in endpoints)
        {
            Validate(endpoint, errors);
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(section.Path, typeof(TOptions), errors.Distinct());
        }
    }

    /// <summary>Adds what is wrong with <paramref name="endpoint"/>'s metadata to <paramref name="errors"/>.</summary>
    protected virtual void Validate(Endpoint endpoint, List<string> errors)
    {
        foreach (var name in policies.PolicyNames(endpoint))
        {
            if (!policies.IsDefined(name))
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' uses {policies.PolicyKind} '{name}', which is not defined under {SectionPath}:Policies.");
            }
        }
    }
}
