using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Fails start-up when an endpoint names an idempotency policy that is not defined, or its attribute makes the
/// effective settings invalid, instead of finding out on the endpoint's first request.
/// </summary>
internal sealed class IdempotencyEndpointValidator(
    IOptionsMonitor<RedisIdempotencyOptions> options,
    RedisEdgeSectionPath<RedisIdempotencyOptions> section) : RedisEdgeEndpointValidator<RedisIdempotencyOptions>(section)
{
    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        var current = options.CurrentValue;
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

        RedisIdempotencyOptionsValidator.ValidateValues(
            $"{name} [Idempotent]",
            errors,
            attribute.HeaderName ?? policy?.HeaderName ?? current.HeaderName,
            attribute.RetentionValue ?? policy?.Retention ?? current.Retention,
            attribute.LeaseValue ?? policy?.Lease ?? current.Lease,
            attribute.StoredStatusCodes?.Split(','),
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
