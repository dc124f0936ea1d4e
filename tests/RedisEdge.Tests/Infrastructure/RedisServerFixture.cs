using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// The Redis every test in the <see cref="RedisCollection"/> shares: a private <c>redis-server</c> started for the
/// run, or the server named by <c>REDISEDGE_TEST_REDIS</c>. A missing <c>redis-server</c> fails the tests with an
/// install hint; it never skips them.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = "REDISEDGE_TEST_REDIS";

    private RedisServerProcess? _process;
    private ConnectionMultiplexer? _admin;

    public string Configuration { get; private set; } = string.Empty;

    /// <summary>A connection for test assertions (inspecting keys, TTLs, command stats); not used by the apps.</summary>
    public ConnectionMultiplexer Admin => _admin ?? throw new InvalidOperationException("The fixture is not initialized.");

    public IDatabase Database => Admin.GetDatabase();

    public IServer Server => Admin.GetServer(Admin.GetEndPoints()[0]);

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            Configuration = external;
            await RedisServerProcess.WaitUntilReadyAsync(Configuration, process: null);
        }
        else
        {
            _process = await RedisServerProcess.StartAsync();
            Configuration = _process.Configuration;
        }

        var options = ConfigurationOptions.Parse(Configuration);
        options.AllowAdmin = true;
        _admin = await ConnectionMultiplexer.ConnectAsync(options);
    }

    public async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse(Configuration);
        options.AllowAdmin = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>Every key whose name starts with <paramref name="prefix"/>.</summary>
    public async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        await foreach (var key in Server.KeysAsync(pattern: RedisPattern(prefix) + "*", pageSize: 1000))
        {
            keys.Add(key.ToString());
        }

        return keys;
    }

    /// <summary>
    /// Calls per command from <c>INFO commandstats</c> (server side, so it tells EVAL from EVALSHA, which the client
    /// profiler reports alike). Keys are lower-case command names such as <c>evalsha</c>.
    /// </summary>
    public async Task<Dictionary<string, long>> CommandStatsAsync()
    {
        var stats = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in await Server.InfoAsync("commandstats"))
        {
            foreach (var (name, value) in group)
            {
                // cmdstat_evalsha -> calls=8,usec=42,...
                var calls = value.Split(',')[0];
                stats[name["cmdstat_".Length..]] = long.Parse(calls["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return stats;
    }

    /// <summary>A fresh key prefix, so tests sharing this server never see each other's keys.</summary>
    public static string UniquePrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    public async Task DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    private static string RedisPattern(string prefix)
    {
        var builder = new System.Text.StringBuilder(prefix.Length);
        foreach (var c in prefix)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "Redis";
}
