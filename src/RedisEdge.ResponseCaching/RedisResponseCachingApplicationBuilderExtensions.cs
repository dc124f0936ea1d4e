using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the RedisEdge response-caching middleware to the pipeline.</summary>
public static class RedisResponseCachingApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the middleware that serves and stores responses of endpoints with <c>[CacheResponse]</c> /
    /// <c>.CacheResponse(...)</c>. Place it after routing and authentication (policies that vary by user read the
    /// authenticated user) and after rate limiting (a rejected request should not consume a cache hit).
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddResponseCaching</c> was not called.</exception>
    public static IApplicationBuilder UseRedisResponseCaching(this IApplicationBuilder app) =>
        RedisResponseCachingBuilderExtensions.Feature.Use<RedisResponseCachingMiddleware>(app);
}
