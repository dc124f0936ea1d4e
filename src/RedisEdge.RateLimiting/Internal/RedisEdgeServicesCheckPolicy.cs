using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Added once by <c>AddRedisEdgePolicy</c>, under <see cref="Name"/>: the first-party middleware creates it from the
/// container when the request pipeline is built (at start-up), so an app that adds RedisEdge policies to
/// <c>AddRateLimiter()</c> without <c>services.AddRedisEdge().AddRateLimiting()</c> fails to start, naming what is
/// missing and every policy that needs it, instead of failing each request that reaches one of them.
/// </summary>
/// <remarks>No endpoint names it; if one does, every request gets a partition without a limit.</remarks>
internal sealed class RedisEdgeServicesCheckPolicy : IRateLimiterPolicy<string>
{
    /// <summary>The first-party policy name this check is added under.</summary>
    public const string Name = "RedisEdge.ServicesCheck";

    public RedisEdgeServicesCheckPolicy(IServiceProvider services)
    {
        if (services.GetService<RedisRateLimiterFactory>() is null)
        {
            var names = services.GetService<IOptions<RateLimiterOptions>>() is { } options
                ? string.Join(", ", RedisEdgeRateLimiterPolicy.Of(options.Value).Keys.Select(n => $"\"{n}\""))
                : string.Empty;
            throw new InvalidOperationException(NotRegistered(names));
        }
    }

    /// <summary>What is missing when RedisEdge policies (<paramref name="names"/>, quoted) are added without their services.</summary>
    internal static string NotRegistered(string names) =>
        $"AddRateLimiter(o => o.AddRedisEdgePolicy(...)) adds the RedisEdge rate-limit policies {names}, but RedisEdge " +
        "rate limiting is not registered: call services.AddRedisEdge().AddRateLimiting() as well " +
        "(its policies are configured under RedisEdge:RateLimiting:Policies).";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) => RateLimitPartition.GetNoLimiter(Name);
}
