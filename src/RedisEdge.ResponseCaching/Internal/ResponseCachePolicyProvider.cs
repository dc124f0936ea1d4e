using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Core's policy provider filled in for response caching: an endpoint resolves to its cache policy, or none.</summary>
internal sealed class ResponseCachePolicyProvider(
    IOptionsMonitor<RedisResponseCachingOptions> monitor,
    IServiceProvider services,
    ILoggerFactory loggerFactory)
    : RedisEdgePolicyProvider<RedisResponseCachingOptions, ResponseCachePolicySet, ResponseCachePolicy>(
        monitor, static (options, generation) => new ResponseCachePolicySet(options, generation), services, loggerFactory)
{
    public override string PolicyKind => "response-cache policy";

    public override IEnumerable<string> PolicyNames(Endpoint endpoint) =>
        Attribute(endpoint) is { } attribute ? [attribute.PolicyName] : [];

    protected override ResponseCachePolicy? Resolve(ResponseCachePolicySet set, Endpoint endpoint) =>
        Attribute(endpoint) is { } attribute ? set.Policies.GetValueOrDefault(attribute.PolicyName) : null;

    private static CacheResponseAttribute? Attribute(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<DisableResponseCachingAttribute>() is null ? endpoint.Metadata.GetMetadata<CacheResponseAttribute>() : null;
}
