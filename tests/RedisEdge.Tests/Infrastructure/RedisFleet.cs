using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
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
        IDictionary<string, string?>? settings = null,
        bool kestrel = false)
        => StartAsync(redis.Configuration, instances, configureServices, configureApp, settings, kestrel);

    /// <summary>The same over any Redis, such as a private <see cref="RedisServerProcess"/> a test kills and restarts.
    /// With <paramref name="kestrel"/>, each instance listens on a loopback port and its client goes over real sockets.</summary>
    public static async Task<RedisFleet> StartAsync(
        string redisConfiguration,
        int instances,
        Action<WebApplicationBuilder, int> configureServices,
        Action<WebApplication, int> configureApp,
        IDictionary<string, string?>? settings = null,
        bool kestrel = false)
    {
        var prefix = RedisServerFixture.UniquePrefix();
        var list = new List<RedisFleetInstance>(instances);
        try
        {
            for (var i = 0; i < instances; i++)
            {
                list.Add(await RedisFleetInstance.StartAsync(redisConfiguration, prefix, i, configureServices, configureApp, settings, kestrel));
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
        IDictionary<string, string?>? settings,
        bool kestrel = false)
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

        var builder = TestHost.CreateBuilder(configuration, kestrel);
        configureServices(builder, index);
        var app = builder.Build();
        configureApp(app, index);
        await app.StartAsync();
        var multiplexer = app.Services.GetRequiredService<RedisEdgeConnection>().Multiplexer;
        var client = kestrel
            ? new HttpClient(new SocketsHttpHandler { UseCookies = false, AutomaticDecompression = System.Net.DecompressionMethods.None })
            {
                BaseAddress = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single()),
            }
            : app.GetTestClient();
        return new RedisFleetInstance(index, app, client, multiplexer);
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
