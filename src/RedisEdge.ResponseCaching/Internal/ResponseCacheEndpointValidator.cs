using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Fails start-up when an endpoint names a cache policy that is not defined, instead of finding out on the
/// endpoint's first request.
/// </summary>
/// <remarks>
/// A startup filter, as in rate limiting: it runs right after the request pipeline (and so the endpoint data
/// sources) is built, still inside the host's start.
/// </remarks>
internal sealed class ResponseCacheEndpointValidator(
    IOptionsMonitor<RedisResponseCachingOptions> options,
    RedisEdgeSectionPath<RedisResponseCachingOptions> section) : IStartupFilter
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
            if (endpoint.Metadata.GetMetadata<CacheResponseAttribute>() is { } attribute && !policies.Contains(attribute.PolicyName))
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' uses response-cache policy '{attribute.PolicyName}', which is not defined under {section.Path}:Policies.");
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(section.Path, typeof(RedisResponseCachingOptions), errors.Distinct());
        }
    }
}
