using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the RedisEdge idempotency middleware to the pipeline.</summary>
public static class RedisIdempotencyApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the middleware that runs <c>[Idempotent]</c> endpoints once per key. Place it after routing and
    /// authentication (keys are scoped by the authenticated caller) and <b>before</b> <c>UseRedisRateLimiting</c>: a
    /// client retrying a completed request then gets its stored response even when its quota is spent, while a new
    /// execution the limiter refuses answers <c>429</c>, which is not stored, so the key is released for the retry.
    /// Place response compression before it too, unless stored responses should keep their encoding.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddIdempotency</c> was not called.</exception>
    public static IApplicationBuilder UseRedisIdempotency(this IApplicationBuilder app) =>
        RedisIdempotencyBuilderExtensions.Feature.Use<RedisIdempotencyMiddleware>(app);
}
