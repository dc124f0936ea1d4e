using System.Globalization;
using System.Text;
using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// A real Redis the tests run against, whatever its topology: one <c>redis-server</c>
/// (<see cref="RedisServerFixture"/>) or a six-node cluster (<see cref="RedisClusterFixture"/>). Fleet tests take this
/// type, so the same assertions run on both topologies.
/// </summary>
public abstract class RedisTestServer
{
    private ConnectionMultiplexer? _admin;

    /// <summary>A short name for test output: "single node" or "cluster".</summary>
    public abstract string Topology { get; }

    public bool IsCluster => Admin.GetServers().Any(s => s.ServerType == ServerType.Cluster);

    /// <summary>The StackExchange.Redis configuration string the apps under test use.</summary>
    public string Configuration { get; private set; } = string.Empty;

    /// <summary>A connection for test assertions (inspecting keys, TTLs, command stats); not used by the apps.</summary>
    public ConnectionMultiplexer Admin => _admin ?? throw new InvalidOperationException("The fixture is not initialized.");

    public IDatabase Database => Admin.GetDatabase();

    /// <summary>The connected primaries (one on a single node; every slot owner on a cluster).</summary>
    public IReadOnlyList<IServer> Primaries => Admin.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToList();

    public async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse(Configuration);
        options.AllowAdmin = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>The Redis server clock (of any primary; cluster nodes here share the machine's clock).</summary>
    public Task<DateTime> ServerTimeAsync() => Primaries[0].TimeAsync();

    /// <summary>Every key whose name starts with <paramref name="prefix"/>, on every primary.</summary>
    public async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        foreach (var server in Primaries)
        {
            await foreach (var key in server.KeysAsync(pattern: RedisPattern(prefix) + "*", pageSize: 1000))
            {
                keys.Add(key.ToString());
            }
        }

        return keys;
    }

    /// <summary>
    /// Calls per command from <c>INFO commandstats</c>, summed over every primary (server side, so it tells EVAL from
    /// EVALSHA, which the client profiler reports alike). Keys are lower-case command names such as <c>evalsha</c>.
    /// </summary>
    public async Task<Dictionary<string, long>> CommandStatsAsync()
    {
        var stats = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (var server in Primaries)
        {
            foreach (var group in await server.InfoAsync("commandstats"))
            {
                foreach (var (name, value) in group)
                {
                    // cmdstat_evalsha -> calls=8,usec=42,...
                    var calls = value.Split(',')[0];
                    var command = name["cmdstat_".Length..];
                    stats[command] = stats.GetValueOrDefault(command) + long.Parse(calls["calls=".Length..], CultureInfo.InvariantCulture);
                }
            }
        }

        return stats;
    }

    public override string ToString() => Topology;

    protected async Task ConnectAdminAsync(string configuration)
    {
        Configuration = configuration;
        var options = ConfigurationOptions.Parse(configuration);
        options.AllowAdmin = true;
        _admin = await ConnectionMultiplexer.ConnectAsync(options);
    }

    protected async Task DisposeAdminAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }
    }

    private static string RedisPattern(string prefix)
    {
        var builder = new StringBuilder(prefix.Length);
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
