using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Reads what an endpoint's metadata asks of RedisEdge rate limiting, across RedisEdge's <see cref="RateLimitAttribute"/>
/// and the first-party <see cref="EnableRateLimitingAttribute"/> / <see cref="DisableRateLimitingAttribute"/>.
/// </summary>
/// <remarks>
/// Metadata is ordered from least to most specific (group, controller, action, endpoint). A disable marker (either)
/// wins. The most specific <c>[EnableRateLimiting]</c> names one policy and replaces every less specific declaration,
/// as <c>GetMetadata&lt;T&gt;()</c> does for the first-party limiter; <c>[RateLimit]</c>s more specific than it add to it
/// (several <c>[RateLimit]</c>s combine, as they always have).
/// </remarks>
internal static class RateLimitDeclarations
{
    public static bool IsDisabled(EndpointMetadataCollection metadata) =>
        metadata.GetMetadata<DisableRateLimitAttribute>() is not null || metadata.GetMetadata<DisableRateLimitingAttribute>() is not null;

    /// <summary>The most specific first-party <c>[EnableRateLimiting]</c>, and its position in the metadata (-1 when none).</summary>
    public static (EnableRateLimitingAttribute? Attribute, int Index) Enable(EndpointMetadataCollection metadata)
    {
        for (var i = metadata.Count - 1; i >= 0; i--)
        {
            if (metadata[i] is EnableRateLimitingAttribute enable)
            {
                return (enable, i);
            }
        }

        return (null, -1);
    }

    /// <summary>
    /// Whether every declaration of the endpoint is the first-party limiter's (its most specific
    /// <c>[EnableRateLimiting]</c> names a policy <c>AddRateLimiter()</c> owns, <c>AddRedisEdgePolicy</c> ones included, and
    /// no <c>[RateLimit]</c> is more specific): <c>UseRateLimiter()</c> charges it, so <c>UseRedisRateLimiting()</c> need not run.
    /// </summary>
    public static bool LeftToFirstParty(EndpointMetadataCollection metadata, IServiceProvider services)
    {
        if (Enable(metadata).Attribute is null || services.GetService<FirstPartyRateLimiting>() is not { Registered: true } firstParty)
        {
            return false;
        }

        var policies = services.GetRequiredService<RateLimitPolicyProvider>().Current.Policies;
        return Of(metadata, firstParty, policies.ContainsKey).Count == 0;
    }

    /// <summary>
    /// The RedisEdge policy names the endpoint declares, with their costs, least specific first; an
    /// <c>[EnableRateLimiting]</c> name the first-party limiter owns declares nothing here (its middleware charges it).
    /// </summary>
    public static List<(string Policy, int Cost)> Of(EndpointMetadataCollection metadata, FirstPartyRateLimiting firstParty, Func<string, bool> redisEdgeDefines)
    {
        var declared = new List<(string Policy, int Cost)>();
        var (enable, index) = Enable(metadata);
        if (enable?.PolicyName is { } name && !firstParty.Owns(name, redisEdgeDefines(name)))
        {
            declared.Add((name, 1));
        }

        for (var i = index + 1; i < metadata.Count; i++)
        {
            if (metadata[i] is RateLimitAttribute attribute)
            {
                declared.Add((attribute.PolicyName, attribute.Cost));
            }
        }

        return declared;
    }
}
