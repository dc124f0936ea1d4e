using Microsoft.AspNetCore.Http;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Fails start-up when an endpoint names an idempotency policy that is not defined, or its attribute makes the
/// effective settings invalid, instead of finding out on the endpoint's first request.
/// </summary>
internal sealed class IdempotencyEndpointValidator(
    IServiceProvider services,
    RedisEdgeSectionPath<RedisIdempotencyOptions> section) : RedisEdgeEndpointValidator<RedisIdempotencyOptions>(services, section)
{
    protected override void Validate(Endpoint endpoint, RedisIdempotencyOptions current, bool optionsValid, List<string> errors)
    {
        if (endpoint.Metadata.GetMetadata<IdempotentAttribute>() is not { } attribute)
        {
            return;
        }

        var name = $"Endpoint '{endpoint.DisplayName}'";
        RedisIdempotencyPolicyOptions? policy = null;
        if (attribute.Policy is { } policyName && !current.Policies.TryGetValue(policyName, out policy))
        {
            errors.Add($"{name} uses idempotency policy '{policyName}', which is not defined under {SectionPath}:Policies.");
            return;
        }

        if (!optionsValid)
        {
            // The effective settings would repeat the configuration's own errors under every endpoint's name.
            return;
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
}
