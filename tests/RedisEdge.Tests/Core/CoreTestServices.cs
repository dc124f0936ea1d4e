using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RedisEdge.Internal;

namespace RedisEdge.Tests.Core;

/// <summary>A RedisEdge service provider and a script runner over it, without a web host.</summary>
internal sealed class CoreTestServices : IAsyncDisposable
{
    public static readonly RedisScript CounterScript = RedisScript.FromResource(typeof(CoreTestServices).Assembly, "test_counter.lua");

    private CoreTestServices(ServiceProvider provider, RedisFailurePolicyOptions policy, ILogger? logger, TimeProvider? timeProvider)
    {
        Provider = provider;
        Connection = provider.GetRequiredService<RedisEdgeConnection>();
        Keys = provider.GetRequiredService<RedisKeyBuilder>();
        Telemetry = new RedisFeatureTelemetry(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), RedisEdgeTelemetryNames.Core);
        Runner = new RedisScriptRunner(Connection, Telemetry, policy, logger ?? NullLogger.Instance, timeProvider);
    }

    public ServiceProvider Provider { get; }

    public RedisEdgeConnection Connection { get; }

    public RedisKeyBuilder Keys { get; }

    public RedisFeatureTelemetry Telemetry { get; }

    public RedisScriptRunner Runner { get; }

    public static CoreTestServices Create(string redisConfiguration, RedisFailurePolicyOptions? policy = null, string? prefix = null, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRedisEdge(o =>
        {
            o.Redis.Configuration = redisConfiguration;
            o.Redis.KeyPrefix = prefix ?? Infrastructure.RedisServerFixture.UniquePrefix();
        });
        return new CoreTestServices(services.BuildServiceProvider(), policy ?? new RedisFailurePolicyOptions(), logger, timeProvider);
    }

    public async ValueTask DisposeAsync()
    {
        Telemetry.Dispose();
        await Provider.DisposeAsync();
    }
}
