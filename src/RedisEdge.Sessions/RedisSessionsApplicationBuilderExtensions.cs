using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Sessions.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the RedisEdge session middleware to the pipeline.</summary>
public static class RedisSessionsApplicationBuilderExtensions
{
    /// <summary>
    /// Gives each request a lazy RedisEdge session as <c>HttpContext.Session</c>. Place it after <c>UseRouting</c>
    /// (when called explicitly) so endpoint attributes are seen, and before the endpoints that use the session.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddRedisEdge().AddSessions()</c> was not called.</exception>
    public static IApplicationBuilder UseRedisSessions(this IApplicationBuilder app) =>
        RedisSessionsBuilderExtensions.Feature.Use<RedisSessionMiddleware>(app);
}
