using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Core's policy provider filled in for idempotency: an endpoint resolves to its effective settings (feature options,
/// then its named policy, then its attribute).
/// </summary>
internal sealed class IdempotencyPolicyProvider(
    IOptionsMonitor<RedisIdempotencyOptions> monitor,
    IServiceProvider services,
    ILoggerFactory loggerFactory)
    : RedisEdgePolicyProvider<RedisIdempotencyOptions, IdempotencyPolicySet, IdempotencyPolicy>(
        monitor, static (options, generation) => new IdempotencyPolicySet(options, generation), services, loggerFactory)
{
    public override string PolicyKind => "idempotency policy";

    public override IEnumerable<string> PolicyNames(Endpoint endpoint) =>
        Attribute(endpoint) is { Policy: { } name } ? [name] : [];

    /// <summary>A name the set does not define counts as none: the feature-wide options apply.</summary>
    protected override IdempotencyPolicy? Resolve(IdempotencyPolicySet set, Endpoint endpoint)
    {
        if (Attribute(endpoint) is not { } attribute)
        {
            return null;
        }

        var basis = attribute.Policy is { } name && set.Policies.TryGetValue(name, out var named) ? named : set.Default;
        return basis.With(attribute);
    }

    private static IdempotentAttribute? Attribute(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<DisableIdempotencyAttribute>() is null ? endpoint.Metadata.GetMetadata<IdempotentAttribute>() : null;
}
