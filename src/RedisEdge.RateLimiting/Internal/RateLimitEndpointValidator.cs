using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Fails start-up when an endpoint names a rate-limit policy that is not defined, instead of finding out on the
/// endpoint's first request.
/// </summary>
/// <remarks>
/// A startup filter rather than a hosted service: hosted services start before the request pipeline (and so the
/// endpoint data sources) is built; a startup filter runs right after it, still inside the host's start.
/// </remarks>
internal sealed class RateLimitEndpointValidator(
    IOptionsMonitor<RedisRateLimitingOptions> options,
    RedisEdgeSectionPath<RedisRateLimitingOptions> section) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        if (app.ApplicationServices.GetService<EndpointDataSource>() is { } source)
        {
            Validate(source.Endpoints);
        }
    };

    internal void Validate(IReadOnlyList<Microsoft.AspNetCore.Http.Endpoint> endpoints)
    {
        var policies = new HashSet<string>(options.CurrentValue.Policies.Keys, StringComparer.OrdinalIgnoreCase);
        var errors = new List<string>();
        foreach (var endpoint in endpoints)
        {
            foreach (var attribute in endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>())
            {
                if (!policies.Contains(attribute.PolicyName))
                {
                    errors.Add($"Endpoint '{endpoint.DisplayName}' uses rate-limit policy '{attribute.PolicyName}', which is not defined under {section.Path}:Policies.");
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(section.Path, typeof(RedisRateLimitingOptions), errors.Distinct());
        }
    }
}
