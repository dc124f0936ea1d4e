using Microsoft.AspNetCore.Http;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Core's start-up check of endpoints (an undefined policy fails start-up), plus: an attribute that makes the
/// effective settings invalid fails it too, instead of the endpoint's first request. The errors go to Core's start-up
/// report, with every other start-up error.
/// </summary>
internal sealed class IdempotencyEndpointValidator(
    IServiceProvider services,
    RedisEdgeSectionPath<RedisIdempotencyOptions> section) : RedisEdgeEndpointValidator<RedisIdempotencyOptions>(services, section)
{
    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        if (endpoint.Metadata.GetMetadata<IdempotentAttribute>() is not { } attribute)
        {
            return;
        }

        var set = ((IdempotencyPolicyProvider)Policies).Current;
        if (attribute.Policy is { } name && !set.Defines(name))
        {
            base.Validate(endpoint, errors);
            return;
        }

        if (!OptionsValid)
        {
            // The effective settings would repeat the configuration's own errors under every endpoint's name.
            return;
        }

        var basis = attribute.Policy is { } named ? set.Policies[named] : set.Default;
        RedisIdempotencyOptionsValidator.ValidateValues($"Endpoint '{endpoint.DisplayName}' [Idempotent]", errors, basis.With(attribute));
    }
}
