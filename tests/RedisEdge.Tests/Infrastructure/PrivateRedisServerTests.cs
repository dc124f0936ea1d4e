using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// Base of test classes that need a redis-server of their own (one per test: xUnit creates the class per test), to
/// pause, reconfigure or break without touching the shared fixture: <see cref="Server"/>, an admin connection, and
/// <c>CLIENT PAUSE WRITE</c> (holds every script call while reads and the admin's own commands go on).
/// </summary>
public abstract class PrivateRedisServerTests : IAsyncLifetime
{
    private RedisServerProcess? _server;
    private ConnectionMultiplexer? _admin;

    protected RedisServerProcess Server => _server ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>A connection with admin commands allowed.</summary>
    protected ConnectionMultiplexer Admin => _admin ?? throw new InvalidOperationException("The server is not started.");

    protected IServer AdminServer => Admin.GetServer(Admin.GetEndPoints()[0]);

    public async Task InitializeAsync()
    {
        _server = await RedisServerProcess.StartAsync();
        var options = ConfigurationOptions.Parse(_server.Configuration);
        options.AllowAdmin = true;
        _admin = await ConnectionMultiplexer.ConnectAsync(options);
    }

    public async Task DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Holds every write (and so every script call) for up to <paramref name="duration"/> (default 30 s) or until <see cref="UnpauseAsync"/>.</summary>
    protected Task<RedisResult> PauseWritesAsync(TimeSpan? duration = null) =>
        AdminServer.ExecuteAsync("CLIENT", "PAUSE", (long)(duration ?? TimeSpan.FromSeconds(30)).TotalMilliseconds, "WRITE");

    protected Task<RedisResult> UnpauseAsync() => AdminServer.ExecuteAsync("CLIENT", "UNPAUSE");
}
