using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// The multiplexer every RedisEdge feature shares: the application's <see cref="IConnectionMultiplexer"/> when one
/// is registered in DI (how .NET Aspire provides Redis), otherwise one RedisEdge creates from
/// <c>RedisEdge:Redis:Configuration</c> and disposes.
/// </summary>
internal sealed class RedisEdgeConnection : IDisposable
{
    private readonly IServiceProvider _services;
    private readonly IOptions<RedisEdgeOptions> _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnectionMultiplexer? _multiplexer;
    private bool _owned;

    public RedisEdgeConnection(IServiceProvider services, IOptions<RedisEdgeOptions> options, ILogger<RedisEdgeConnection> logger)
    {
        _services = services;
        _options = options;
        _logger = logger;
    }

    /// <summary>
    /// The multiplexer. A host connects it at start-up (<see cref="ConnectAsync"/>), so requests never pay the
    /// connect timeout; outside a host it connects on first use.
    /// </summary>
    public IConnectionMultiplexer Multiplexer
    {
        get
        {
            if (Volatile.Read(ref _multiplexer) is { } multiplexer)
            {
                return multiplexer;
            }

            _gate.Wait();
            try
            {
                return _multiplexer ??= CreateShared() ?? Connect();
            }
            finally
            {
                _gate.Release();
            }
        }
    }

    public IDatabase Database => Multiplexer.GetDatabase();

    public async Task ConnectAsync()
    {
        if (Volatile.Read(ref _multiplexer) is not null)
        {
            return;
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _multiplexer ??= CreateShared() ?? await ConnectAsyncCore().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsyncCore()
    {
        var configuration = Configuration();
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        _owned = true;
        return multiplexer;
    }

    private IConnectionMultiplexer? CreateShared() => _services.GetService<IConnectionMultiplexer>();

    private ConnectionMultiplexer Connect()
    {
        var multiplexer = ConnectionMultiplexer.Connect(Configuration());
        _owned = true;
        return multiplexer;
    }

    private ConfigurationOptions Configuration()
    {
        var configuration = CreateConfiguration(_options.Value.Redis.Configuration!);
        Log.Connecting(_logger, configuration.ToString(includePassword: false));
        return configuration;
    }

    internal static ConfigurationOptions CreateConfiguration(string configuration)
    {
        var parsed = ConfigurationOptions.Parse(configuration);

        // The app must start while Redis is down, and while it is down a command must fail at once rather than
        // sit in the backlog and run minutes later (a rate-limit permit or session write nobody waits for).
        parsed.AbortOnConnectFail = false;
        parsed.BacklogPolicy = BacklogPolicy.FailFast;
        parsed.ClientName ??= "RedisEdge";
        return parsed;
    }

    public void Dispose()
    {
        if (_owned)
        {
            _multiplexer?.Dispose();
        }

        _gate.Dispose();
    }
}
