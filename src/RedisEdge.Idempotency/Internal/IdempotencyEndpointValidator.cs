using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Fails start-up when an endpoint names an idempotency policy that is not defined, or its attribute makes the
/// effective settings invalid, instead of finding out on the endpoint's first request.
/// </summary>
/// <remarks>A startup filter: it runs right after the request pipeline (and so the endpoints) is built, still inside
/// the host's start.</remarks>
internal sealed class IdempotencyEndpointValidator(
    IOptionsMonitor<RedisIdempotencyOptions> options,
    RedisEdgeSectionPath<RedisIdempotencyOptions> section) : IStartupFilter
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
        var current = options.CurrentValue;
        var errors = new List<string>();
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<IdempotentAttribute>() is not { } attribute)
            {
                continue;
            }

            var name = $"Endpoint '{endpoint.DisplayName}'";
            RedisIdempotencyPolicyOptions? policy = null;
            if (attribute.Policy is { } policyName && !current.Policies.TryGetValue(policyName, out policy))
            {
                errors.Add($"{name} uses idempotency policy '{policyName}', which is not defined under {section.Path}:Policies.");
                continue;
            }

            RedisIdempotencyOptionsValidator.ValidateValues(
                $"{name} [Idempotent]",
                errors,
                attribute.HeaderName ?? policy?.HeaderName ?? current.HeaderName,
                attribute.RetentionValue ?? policy?.Retention ?? current.Retention,
                attribute.LeaseValue ?? policy?.Lease ?? current.Lease,
                null,
                attribute.MaxBodySizeValue ?? policy?.MaxBodySize ?? current.MaxBodySize,
                policy?.MaxRequestBodySize ?? current.MaxRequestBodySize,
                attribute.InFlightValue ?? policy?.InFlight ?? current.InFlight,
                attribute.WaitTimeoutValue ?? policy?.WaitTimeout ?? current.WaitTimeout,
                policy?.Scope ?? current.Scope,
                policy?.ScopeHeaderName ?? current.ScopeHeaderName,
                policy?.ScopeResolver ?? current.ScopeResolver,
                policy?.AnonymousFallback ?? current.AnonymousFallback);
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(section.Path, typeof(RedisIdempotencyOptions), errors.Distinct());
        }
    }
}
