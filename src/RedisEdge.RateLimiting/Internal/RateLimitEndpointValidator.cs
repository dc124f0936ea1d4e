using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Fails start-up when an endpoint names a rate-limit policy that is not defined, instead of finding out on the
/// endpoint's first request.
/// </summary>
internal sealed class RateLimitEndpointValidator(
    IServiceProvider services,
    IOptionsMonitor<RedisRateLimitingOptions> options,
    RedisEdgeSectionPath<RedisRateLimitingOptions> section) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var source = services.GetService<EndpointDataSource>();
        if (source is null)
        {
            return Task.CompletedTask;
        }

        var policies = options.CurrentValue.Policies;
        var errors = new List<string>();
        foreach (var endpoint in source.Endpoints)
        {
            foreach (var attribute in endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>())
            {
                if (!policies.ContainsKey(attribute.PolicyName) &&
                    !policies.Keys.Any(k => string.Equals(k, attribute.PolicyName, StringComparison.OrdinalIgnoreCase)))
                {
                    errors.Add($"Endpoint '{endpoint.DisplayName}' uses rate-limit policy '{attribute.PolicyName}', which is not defined under {section.Path}:Policies.");
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(section.Path, typeof(RedisRateLimitingOptions), errors);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
