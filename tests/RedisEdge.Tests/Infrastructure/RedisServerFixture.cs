using RedisEdge.Testing;
using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// The Redis every test in the <see cref="RedisCollection"/> shares: a private <c>redis-server</c> started for the
/// run, or the server named by <c>REDISEDGE_TEST_REDIS</c> (<c>host:port</c>, or <c>embedded</c> for RedisEdge.Testing's
/// in-process Garnet server, which only scripts/test.sh's parity run uses). A missing <c>redis-server</c> fails the
/// tests with an install hint; it never skips them.
/// </summary>
public sealed class RedisServerFixture : RedisTestServer, IAsyncLifetime
{
    public const string EnvironmentVariable = "REDISEDGE_TEST_REDIS";

    /// <summary>The <see cref="EnvironmentVariable"/> value that runs the tests on the embedded server.</summary>
    public const string Embedded = "embedded";

    private RedisServerProcess? _process;
    private RedisEdgeTestServer? _embedded;

    public override string Topology => _embedded is null ? "single node" : "embedded";

    public IServer Server => Admin.GetServer(Admin.GetEndPoints()[0]);

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.Equals(external, Embedded, StringComparison.OrdinalIgnoreCase))
        {
            _embedded = await RedisEdgeTestServer.StartAsync();
            await ConnectAdminAsync(_embedded.Configuration);
        }
        else if (!string.IsNullOrWhiteSpace(external))
        {
            await RedisServerProcess.WaitUntilReadyAsync(external, process: null);
            await ConnectAdminAsync(external);
        }
        else
        {
            _process = await RedisServerProcess.StartAsync();
            await ConnectAdminAsync(_process.Configuration);
        }
    }

    /// <summary>A fresh key prefix, so tests sharing this server never see each other's keys.</summary>
    public static string UniquePrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    public async Task DisposeAsync()
    {
        await DisposeAdminAsync();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        if (_embedded is not null)
        {
            await _embedded.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "Redis";
}
