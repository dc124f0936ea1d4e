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
    private readonly Lazy<IConnectionMultiplexer> _multiplexer;
    private bool _owned;

    public RedisEdgeConnection(IServiceProvider services, IOptions<RedisEdgeOptions> options, ILogger<RedisEdgeConnection> logger)
    {
        _multiplexer = new Lazy<IConnectionMultiplexer>(() =>
        {
            if (services.GetService<IConnectionMultiplexer>() is { } shared)
            {
                return shared;
            }

            _owned = true;
            var configuration = CreateConfiguration(options.Value.Redis.Configuration!);
            Log.Connecting(logger, configuration.ToString(includePassword: false));
            return ConnectionMultiplexer.Connect(configuration);
        });
    }

    /// <summary>Creates the connection on first use, so DI resolution never blocks on Redis.</summary>
    public IConnectionMultiplexer Multiplexer => _multiplexer.Value;

    public IDatabase Database => Multiplexer.GetDatabase();

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
        if (_owned && _multiplexer.IsValueCreated)
        {
            _multiplexer.Value.Dispose();
        }
    }
}
