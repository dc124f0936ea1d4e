using RedisEdge.RateLimiting.Internal;

namespace Microsoft.AspNetCore.RateLimiting;

/// <summary>RedisEdge policies for ASP.NET Core's own rate-limiting middleware (<c>AddRateLimiter</c> / <c>UseRateLimiter</c>).</summary>
public static class RedisRateLimiterOptionsExtensions
{
    /// <summary>
    /// Adds the RedisEdge rate-limit policy <paramref name="policyName"/> (configured under
    /// <c>RedisEdge:RateLimiting:Policies</c> or in <c>AddRateLimiting</c>) as the first-party policy of the same name, so
    /// <c>[EnableRateLimiting("api")]</c> / <c>.RequireRateLimiting("api")</c> under <c>UseRateLimiter()</c> enforce the
    /// fleet-wide quota: the policy's partitions, script, local deny cache, failure mode and telemetry, with the
    /// first-party <see cref="RateLimiterOptions.OnRejected"/> and <see cref="RateLimiterOptions.RejectionStatusCode"/>.
    /// </summary>
    /// <remarks>
    /// Needs <c>services.AddRedisEdge().AddRateLimiting()</c>: start-up fails when it is missing (through a policy named
    /// <c>RedisEdge.ServicesCheck</c> that this method adds once, which the first-party middleware creates when the
    /// pipeline is built) and when the policy is not defined.
    /// <c>UseRedisRateLimiting()</c> leaves the name to the first-party middleware, so a request is never charged twice.
    /// </remarks>
    /// <param name="options">The first-party limiter's options.</param>
    /// <param name="policyName">The name, both of the RedisEdge policy and of the first-party policy it becomes.</param>
    public static RateLimiterOptions AddRedisEdgePolicy(this RateLimiterOptions options, string policyName)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(policyName);
        var policy = new RedisEdgeRateLimiterPolicy(policyName);
        options.AddPolicy(policyName, policy);
        if (RedisEdgeRateLimiterPolicy.Of(options).Count == 0)
        {
            // The first-party middleware activates this one from the container when the pipeline is built, so a missing
            // AddRateLimiting() fails the host's start instead of every request that names the policy.
            options.AddPolicy<string, RedisEdgeServicesCheckPolicy>(RedisEdgeServicesCheckPolicy.Name);
        }

        RedisEdgeRateLimiterPolicy.Add(options, policy);
        return options;
    }
}
