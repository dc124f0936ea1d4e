namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// The Redis Cluster every test in the <see cref="RedisClusterCollection"/> shares: six real <c>redis-server</c>
/// processes (three primaries, three replicas) started for the run and torn down after it. Tests that fail nodes
/// over or move slots start their own <see cref="RedisClusterProcess"/> instead.
/// </summary>
public sealed class RedisClusterFixture : RedisTestServer, IAsyncLifetime
{
    private RedisClusterProcess? _cluster;

    public override string Topology => "cluster";

    public RedisClusterProcess Cluster => _cluster ?? throw new InvalidOperationException("The fixture is not initialized.");

    public async Task InitializeAsync()
    {
        _cluster = await RedisClusterProcess.StartAsync();
        await ConnectAdminAsync(_cluster.Configuration);
        if (!IsCluster || Primaries.Count != 3)
        {
            throw new InvalidOperationException($"Expected a three-primary cluster, connected to {Primaries.Count} primaries (cluster: {IsCluster}).");
        }
    }

    public async Task DisposeAsync()
    {
        await DisposeAdminAsync();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "Redis Cluster";
}
