using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;
using RedisEdge.Idempotency.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the RedisEdge idempotency middleware to the pipeline.</summary>
public static class RedisIdempotencyApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the middleware that runs <c>[Idempotent]</c> endpoints once per key. Place it after routing, authentication
    /// (when keys are scoped by user) and rate limiting (a rejected request should not claim a key).
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddIdempotency</c> was not called.</exception>
    public static IApplicationBuilder UseRedisIdempotency(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<RedisIdempotencyBuilderExtensions.IdempotencyMarker>() is null)
        {
            throw new InvalidOperationException(
                "UseRedisIdempotency requires the idempotency services: call services.AddRedisEdge(...).AddIdempotency(...) first.");
        }

        RedisEdgeMiddlewareGuard.UsePass(app, RedisIdempotencyBuilderExtensions.Guard);
        return app.UseMiddleware<RedisIdempotencyMiddleware>();
    }
}
