using System.Collections;
using System.Reflection;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// What <c>Microsoft.AspNetCore.RateLimiting</c> owns in this app: whether <c>AddRateLimiter</c> was called, and the
/// names of its policies. A <c>[EnableRateLimiting("x")]</c> that the first-party limiter owns is left to it, so a
/// request is never charged by both. A name <c>AddRedisEdgePolicy</c> added is the first-party limiter's too: it applies
/// the RedisEdge policy of that name itself.
/// </summary>
/// <remarks>
/// <c>RateLimiterOptions</c> keeps its policy names in internal maps (<c>PolicyMap</c>, <c>UnactivatedPolicyMap</c>,
/// unchanged since .NET 7); they are read by reflection once. Should a later framework rename them, every name
/// RedisEdge does not define is taken as the first-party limiter's (its middleware then refuses unknown ones).
/// </remarks>
internal sealed class FirstPartyRateLimiting
{
    private readonly HashSet<string>? _names;
    private readonly IReadOnlyDictionary<string, RedisEdgeRateLimiterPolicy> _redisEdge = new Dictionary<string, RedisEdgeRateLimiterPolicy>();

    public FirstPartyRateLimiting(IServiceProvider services)
    {
        Registered = services.GetServices<IConfigureOptions<RateLimiterOptions>>().Any();
        if (Registered)
        {
            var options = services.GetRequiredService<IOptions<RateLimiterOptions>>().Value;
            _names = PolicyNames(options);
            _redisEdge = RedisEdgeRateLimiterPolicy.Of(options);
        }
    }

    /// <summary>Whether <c>AddRateLimiter</c> (or any configuration of <c>RateLimiterOptions</c>) is registered.</summary>
    public bool Registered { get; }

    /// <summary>Whether the policy names were read (false: the framework's internals changed; see remarks).</summary>
    public bool NamesKnown => _names is not null;

    /// <summary>The policies <c>AddRedisEdgePolicy</c> added to the first-party limiter, by name.</summary>
    public IReadOnlyDictionary<string, RedisEdgeRateLimiterPolicy> RedisEdgePolicies => _redisEdge;

    /// <summary>Whether the first-party limiter owns <paramref name="policyName"/>, given whether RedisEdge defines it.</summary>
    public bool Owns(string policyName, bool redisEdgeDefinesIt) =>
        Registered && (_redisEdge.ContainsKey(policyName) || (_names is null ? !redisEdgeDefinesIt : _names.Contains(policyName)));

    /// <summary>Whether <c>AddRedisEdgePolicy</c> added <paramref name="policyName"/>: both define it, by design.</summary>
    public bool AppliesRedisEdgePolicy(string policyName) => _redisEdge.ContainsKey(policyName);

    private static HashSet<string>? PolicyNames(RateLimiterOptions options)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in new[] { "PolicyMap", "UnactivatedPolicyMap" })
        {
            if (typeof(RateLimiterOptions).GetProperty(property, BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(options) is not IDictionary map)
            {
                return null;
            }

            foreach (var key in map.Keys)
            {
                if (key is string name)
                {
                    names.Add(name);
                }
            }
        }

        return names;
    }
}
