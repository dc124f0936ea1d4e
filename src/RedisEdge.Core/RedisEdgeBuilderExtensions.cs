using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Options;
using RedisEdge;
using RedisEdge.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Optional registrations that share RedisEdge's Redis connection.
/// </summary>
public static class RedisEdgeBuilderExtensions
{
    /// <summary>
    /// Registers the application's <c>IDistributedCache</c> (Microsoft.Extensions.Caching.StackExchangeRedis) over
    /// RedisEdge's multiplexer, with keys under <c>{KeyPrefix}:dc:</c>, so HybridCache and other
    /// <c>IDistributedCache</c> users share RedisEdge's connection instead of opening a second one.
    /// </summary>
    public static IRedisEdgeBuilder AddDistributedCache(this IRedisEdgeBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddStackExchangeRedisCache(_ => { });
        builder.Services.AddOptions<RedisCacheOptions>()
            .Configure<RedisEdgeConnection, IOptions<RedisEdgeOptions>>((cache, connection, options) =>
            {
                cache.ConnectionMultiplexerFactory = () => Task.FromResult(connection.Multiplexer);
                cache.InstanceName = $"{options.Value.Redis.KeyPrefix}:dc:";
            });
        return builder;
    }
}
