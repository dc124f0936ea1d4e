namespace RedisEdge.Tests.Cluster;

/// <summary>
/// The chaos tests (a primary killed under load, slots resharded under load, a slot split mid-migration) each start
/// their own six-node cluster and measure recovery with production time budgets (500 ms). They run alone, one after
/// another and beside no other collection, so that a two-core machine busy with the rest of the suite does not turn a
/// scheduling stall into a timeout the test would read as an outage (seen in CI runs: a burst of 503s or a timed-out
/// re-send seconds after recovery, while the other collection started its own cluster).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterChaosCollection
{
    public const string Name = "Cluster chaos";
}
