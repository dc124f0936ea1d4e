using System.Collections;
using System.Reflection;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// What <c>Microsoft.AspNetCore.RateLimiting</c> owns in this app: whether <c>AddRateLimiter</c> was called, and the
/// names of its policies. A <c>[EnableRateLimiting("x")]</c> that the first-party limiter owns is left to it, so a
/// request is never charged by both.
/// </summary>
/// <remarks>
/// <c>RateLimiterOptions</c> keeps its policy names in internal maps (<c>PolicyMap</c>, <c>UnactivatedPolicyMap</c>,
/// unchanged since .NET 7); they are read by reflection once. Should a later framework rename them, every name
/// RedisEdge does not define is taken as the first-party limiter's (its middleware then refuses unknown ones).
/// </remarks>
internal sealed class FirstPartyRateLimiting
{
    private readonly HashSet<string>? _names;

    public FirstPartyRateLimiting(IServiceProvider services)
    {
        Registered = services.GetServices<IConfigureOptions<RateLimiterOptions>>().Any();
        if (Registered)
        {
            _names = PolicyNames(services.GetRequiredService<IOptions<RateLimiterOptions>>().Value);
        }
    }

    /// <summary>Whether <c>AddRateLimiter</c> (or any configuration of <c>RateLimiterOptions</c>) is registered.</summary>
    public bool Registered { get; }

    /// <summary>Whether the policy names were read (false: the framework's internals changed; see remarks).</summary>
    public bool NamesKnown => _names is not null;

    /// <summary>Whether the first-party limiter owns <paramref name="policyName"/>, given whether RedisEdge defines it.</summary>
    public bool Owns(string policyName, bool redisEdgeDefinesIt) =>
        Registered && (_names is null ? !redisEdgeDefinesIt : _names.Contains(policyName));

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
