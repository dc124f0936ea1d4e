using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the RedisEdge rate-limiting middleware to the pipeline.</summary>
public static class RedisRateLimitingApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the middleware that enforces RedisEdge rate-limit policies. Place it after routing (and after
    /// <c>UseForwardedHeaders</c> and authentication when policies partition by client IP or user).
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddRateLimiting</c> was not called.</exception>
    public static IApplicationBuilder UseRedisRateLimiting(this IApplicationBuilder app) =>
        RedisRateLimitingBuilderExtensions.Feature.Use<RedisRateLimitingMiddleware>(app);
}
