using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.Internal;

internal sealed class RedisEdgeBuilder(IServiceCollection services, IConfigurationSection? configuration) : IRedisEdgeBuilder
{
    public IServiceCollection Services { get; } = services;

    public IConfigurationSection? Configuration { get; } = configuration;
}
