using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Fails start-up, with every other start-up error, when <c>AddRedisEdgePolicy("x")</c> names a RedisEdge policy that
/// is not configured, or one the RedisEdge limiters cannot apply: the same rules as
/// <see cref="IRedisRateLimiterFactory.Create"/>, whose message names the configuration path.
/// </summary>
internal sealed class FirstPartyPolicyCheck(IServiceProvider services, FirstPartyRateLimiting firstParty) : IRedisEdgeEndpointCheck
{
    public void Check(IReadOnlyList<Endpoint> endpoints, List<string> errors)
    {
        if (firstParty.RedisEdgePolicies.Count == 0)
        {
            return;
        }

        IRedisRateLimiterFactory factory;
        try
        {
            factory = services.GetRequiredService<IRedisRateLimiterFactory>();
            _ = services.GetRequiredService<RateLimitPolicyProvider>().Current;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or OptionsValidationException)
        {
            // Not even the options as bound make a policy set: the options check reports why.
            return;
        }

        foreach (var name in firstParty.RedisEdgePolicies.Keys)
        {
            try
            {
                _ = factory.Create(name, string.Empty);
            }
            catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
            {
                errors.Add($"AddRateLimiter(o => o.AddRedisEdgePolicy(\"{name}\")): {ex.Message}");
            }
        }
    }
}
