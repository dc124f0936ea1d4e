using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Fails start-up when an endpoint's RedisEdge metadata is invalid (it names a policy that is not defined, say),
/// instead of finding out on the endpoint's first request. Each feature says what is wrong with one endpoint; the
/// errors of every endpoint are reported together, under the feature's configuration path.
/// </summary>
/// <remarks>
/// A startup filter rather than a hosted service: hosted services start before the request pipeline (and so the
/// endpoint data sources) is built; a startup filter runs right after it, still inside the host's start.
/// </remarks>
internal abstract class RedisEdgeEndpointValidator<TOptions>(RedisEdgeSectionPath<TOptions> section) : IStartupFilter
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
    protected abstract void Validate(Endpoint endpoint, List<string> errors);
}
