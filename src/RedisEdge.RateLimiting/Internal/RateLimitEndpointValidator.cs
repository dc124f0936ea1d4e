using Microsoft.AspNetCore.Http;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Core's start-up check of endpoints, filled in for rate limiting: an endpoint fails start-up when it names a
/// rate-limit policy that is not defined, gives a <see cref="RateLimitAttribute"/> an invalid cost, or carries a
/// first-party <c>[EnableRateLimiting]</c> that no limiter would apply, or that both would. The errors go to Core's
/// start-up report, with every other start-up error.
/// </summary>
internal sealed class RateLimitEndpointValidator(
    IServiceProvider services,
    RedisEdgeSectionPath<RedisRateLimitingOptions> section,
    FirstPartyRateLimiting firstParty) : RedisEdgeEndpointValidator<RedisRateLimitingOptions>(services, section)
{
    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        var set = ((RateLimitPolicyProvider)Policies).Current;
        foreach (var attribute in endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>())
        {
            if (!set.Policies.ContainsKey(attribute.PolicyName))
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' uses rate-limit policy '{attribute.PolicyName}', which is not defined under {SectionPath}:Policies.");
            }

            if (attribute.Cost < 1)
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' [RateLimit(\"{attribute.PolicyName}\")] has Cost {attribute.Cost}; it must be >= 1.");
            }
        }

        if (RateLimitDeclarations.IsDisabled(endpoint.Metadata) || RateLimitDeclarations.Enable(endpoint.Metadata).Attribute is not { } enable)
        {
            return;
        }

        if (enable.PolicyName is not { } name)
        {
            if (!firstParty.Registered)
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' carries a first-party rate-limiting policy object (.RequireRateLimiting(IRateLimiterPolicy)), " +
                    "which RedisEdge cannot apply, and AddRateLimiter() is not registered, so nothing would limit it. Name a policy defined " +
                    $"under {SectionPath}:Policies instead, or register AddRateLimiter() and UseRateLimiter().");
            }

            return;
        }

        var redisEdge = set.Policies.ContainsKey(name);
        var owned = firstParty.Owns(name, redisEdge);
        if (redisEdge && owned && !firstParty.AppliesRedisEdgePolicy(name))
        {
            errors.Add($"Endpoint '{endpoint.DisplayName}' uses [EnableRateLimiting(\"{name}\")], a policy both RedisEdge ({SectionPath}:Policies) and " +
                "AddRateLimiter() define: a request would be charged by both limiters. Rename one of them, or use [RateLimit] for the RedisEdge policy.");
        }
        else if (!redisEdge && !owned)
        {
            errors.Add($"Endpoint '{endpoint.DisplayName}' uses [EnableRateLimiting(\"{name}\")], but rate-limit policy '{name}' is not defined under " +
                $"{SectionPath}:Policies" + (firstParty.Registered ? " nor by AddRateLimiter()." : " (and AddRateLimiter() is not registered)."));
        }
    }
}
