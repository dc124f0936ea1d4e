using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Core's start-up check of endpoints (an undefined policy fails start-up), plus: an attribute that makes the
/// effective settings invalid fails it too, instead of the endpoint's first request.
/// </summary>
internal sealed class IdempotencyEndpointValidator(
    IOptionsMonitor<RedisIdempotencyOptions> options,
    RedisEdgeSectionPath<RedisIdempotencyOptions> section,
    IdempotencyPolicyProvider policies) : RedisEdgeEndpointValidator<RedisIdempotencyOptions>(section, policies)
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
            base.Validate(endpoint, errors);
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
