using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// Several independent application instances over one Redis, as replicas behind a load balancer would be:
/// each has its own host, DI container and multiplexer (created by RedisEdge from configuration).
/// </summary>
public sealed class RedisFleet : IAsyncDisposable
{
    private readonly List<RedisFleetInstance> _instances;

    private RedisFleet(List<RedisFleetInstance> instances, string keyPrefix)
    {
        _instances = instances;
        KeyPrefix = keyPrefix;
    }

    public int Count => _instances.Count;

    /// <summary>The key prefix every instance uses; unique per fleet so fleets never share keys.</summary>
    public string KeyPrefix { get; }

    public RedisFleetInstance this[int index] => _instances[index];

    public IEnumerable<RedisFleetInstance> Instances => _instances;

    /// <summary>
    /// Starts <paramref name="instances"/> apps. <paramref name="configureServices"/> must call <c>AddRedisEdge()</c>
    /// (configuration <c>RedisEdge:Redis:*</c> is already set); <paramref name="configureApp"/> adds middleware and endpoints.
    /// </summary>
    public static Task<RedisFleet> StartAsync(
        RedisTestServer redis,
        int instances,
        Action<WebApplicationBuilder, int> configureServices,
        Action<WebApplication, int> configureApp,
        IDictionary<string, string?>? settings = null)
        => StartAsync(redis.Configuration, instances, configureServices, configureApp, settings);

    /// <summary>The same over any Redis, such as a private <see cref="RedisServerProcess"/> a test kills and restarts.</summary>
    public static async Task<RedisFleet> StartAsync(
        string redisConfiguration,
        int instances,
        Action<WebApplicationBuilder, int> configureServices,
        Action<WebApplication, int> configureApp,
        IDictionary<string, string?>? settings = null)
    {
        var prefix = RedisServerFixture.UniquePrefix();
        var list = new List<RedisFleetInstance>(instances);
        try
        {
            for (var i = 0; i < instances; i++)
            {
                list.Add(await RedisFleetInstance.StartAsync(redisConfiguration, prefix, i, configureServices, configureApp, settings));
            }
        }
        catch
        {
            foreach (var started in list)
            {
                await started.DisposeAsync();
            }

            throw;
        }

        return new RedisFleet(list, prefix);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }
}

public sealed class RedisFleetInstance : IAsyncDisposable
{
    private RedisFleetInstance(int index, WebApplication app, HttpClient client, IConnectionMultiplexer multiplexer)
    {
        Index = index;
        App = app;
        Client = client;
        Multiplexer = multiplexer;
        Commands = new RedisCommandCounter(multiplexer);
    }

    public int Index { get; }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    public IConnectionMultiplexer Multiplexer { get; }

    public RedisCommandCounter Commands { get; }

    public bool IsStopped { get; private set; }

    internal static async Task<RedisFleetInstance> StartAsync(
        string redisConfiguration,
        string keyPrefix,
        int index,
        Action<WebApplicationBuilder, int> configureServices,
        Action<WebApplication, int> configureApp,
        IDictionary<string, string?>? settings)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redisConfiguration,
            ["RedisEdge:Redis:KeyPrefix"] = keyPrefix,
        };
        if (settings is not null)
        {
            foreach (var (key, value) in settings)
            {
                configuration[key] = value;
            }
        }

        var builder = TestHost.CreateBuilder(configuration);
        configureServices(builder, index);
        var app = builder.Build();
        configureApp(app, index);
        await app.StartAsync();
        var multiplexer = app.Services.GetRequiredService<RedisEdgeConnection>().Multiplexer;
        return new RedisFleetInstance(index, app, app.GetTestClient(), multiplexer);
    }

    /// <summary>Stops the instance without any graceful cleanup of Redis state, as a crashed replica would.</summary>
    public async Task KillAsync()
    {
        if (IsStopped)
        {
            return;
        }

        IsStopped = true;
        Client.Dispose();
        await App.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await KillAsync();
}
