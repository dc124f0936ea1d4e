using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Fails start-up when an endpoint names a rate-limit policy that is not defined, gives a <see cref="RateLimitAttribute"/>
/// an invalid cost, or carries a first-party <c>[EnableRateLimiting]</c> that no limiter would apply, or both would.
/// </summary>
internal sealed class RateLimitEndpointValidator(
    IOptionsMonitor<RedisRateLimitingOptions> options,
    FirstPartyRateLimiting firstParty,
    RedisEdgeSectionPath<RedisRateLimitingOptions> section) : RedisEdgeEndpointValidator<RedisRateLimitingOptions>(section)
{
    protected override void Validate(Endpoint endpoint, List<string> errors)
    {
        var policies = options.CurrentValue.Policies;
        bool Defined(string name) => policies.Keys.Contains(name, StringComparer.OrdinalIgnoreCase);
        foreach (var attribute in endpoint.Metadata.GetOrderedMetadata<RateLimitAttribute>())
        {
            if (!Defined(attribute.PolicyName))
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

        var redisEdge = Defined(name);
        var owned = firstParty.Owns(name, redisEdge);
        if (redisEdge && owned)
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
