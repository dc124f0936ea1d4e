using System.Diagnostics;
using System.Globalization;
using RedisEdge.Internal;
using RedisEdge.Tests.Cluster;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

/// <summary>
/// A script whose keys' slot is being migrated, on a real six-node cluster: while the keys are split between the two
/// nodes, Redis answers <c>TRYAGAIN</c> and runs nothing. The runner sends the call again within its
/// <c>Failure:Timeout</c> budget, so a resharding step is a short delay, not an error.
/// </summary>
[Collection(ClusterChaosCollection.Name)]
public sealed class RedisClusterMigrationTests
{
    private static readonly RedisScript PairScript = RedisScript.FromResource(typeof(RedisClusterMigrationTests).Assembly, "test_pair.lua");

    [Fact]
    public async Task TryAgain_WhileTheSlotIsSplit_IsRetriedWithinTheBudget_ThenAnOutageWhenTheBudgetRunsOut()
    {
        await using var cluster = await RedisClusterProcess.StartAsync();
        var prefix = RedisServerFixture.UniquePrefix();
        await using var patient = CoreTestServices.Create(cluster.Configuration, new RedisFailurePolicyOptions { Timeout = TimeSpan.FromSeconds(20) }, prefix);
        await using var hurried = CoreTestServices.Create(cluster.Configuration, new RedisFailurePolicyOptions { Timeout = TimeSpan.FromSeconds(1) }, prefix);
        RedisKey a = patient.Keys.Key("test", "pair", "a"), b = patient.Keys.Key("test", "pair", "b");
        var slot = RedisClusterProcess.HashSlot(a);
        Assert.Equal(slot, RedisClusterProcess.HashSlot(b));
        Assert.Equal([1L, 1L], ((RedisResult[])(await patient.Runner.EvaluateAsync(PairScript, [a, b], [], CancellationToken.None))!).Select(r => (long)r));

        // The hurried client connected and routing to the keys' node before the split: its one-second budget is for the
        // TRYAGAIN loop, not for a first connection to a new cluster (a fresh-clone CI run spent it all there once).
        Assert.True(await hurried.Connection.Database.KeyExistsAsync(a));

        // Split the slot: key a moves to the target, key b stays on the source.
        var source = await cluster.PrimaryForAsync(a);
        var target = (await cluster.PrimariesAsync()).Select(p => p.Node).First(n => n != source);
        var sourceId = await CliAsync(source, "cluster", "myid");
        var targetId = await CliAsync(target, "cluster", "myid");
        await CliAsync(target, "cluster", "setslot", Text(slot), "importing", sourceId);
        await CliAsync(source, "cluster", "setslot", Text(slot), "migrating", targetId);
        await CliAsync(source, "migrate", "127.0.0.1", Text(target.Port), string.Empty, "0", "5000", "keys", a.ToString());
        var tryAgainBefore = await TryAgainCountAsync(source);

        // Out of budget: an outage (the features answer 503 or fail open), never a raw server error.
        var outOfBudget = await Assert.ThrowsAsync<RedisEdgeUnavailableException>(() => hurried.Runner.EvaluateAsync(PairScript, [a, b], [], CancellationToken.None));
        // The budget runs out between two sends (the last TRYAGAIN answer is the cause) or, on a loaded machine, while
        // the last re-send is in flight (a timeout): either way an outage, which is what this asserts.
        Assert.True(
            outOfBudget.InnerException is RedisServerException { Kind: RedisErrorKind.TryAgain } or TimeoutException,
            $"expected the last TRYAGAIN answer or a timeout as the cause, got {outOfBudget.InnerException}");
        Assert.True(await TryAgainCountAsync(source) >= tryAgainBefore + 2, "the hurried call should have been sent again at least once");

        // Within budget: the call keeps retrying while the slot is split and succeeds once the migration completes.
        var retries = new List<int>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == RedisEdgeTelemetryNames.Core,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                // Other test classes run Core scripts in parallel under the same source: count only this script's calls.
                if ((string?)activity.GetTagItem("redisedge.script") != PairScript.Name)
                {
                    return;
                }

                lock (retries)
                {
                    retries.Add(activity.GetTagItem("redisedge.tryagain_retries") is int n ? n : 0);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var beforePatient = await TryAgainCountAsync(source);
        var call = patient.Runner.EvaluateAsync(PairScript, [a, b], [], CancellationToken.None);
        for (var i = 0; i < 500 && await TryAgainCountAsync(source) < beforePatient + 2; i++)
        {
            await Task.Delay(10);
        }

        Assert.False(call.IsCompleted, "the call must still be waiting while the slot is split");
        await CliAsync(source, "migrate", "127.0.0.1", Text(target.Port), string.Empty, "0", "5000", "keys", b.ToString());
        foreach (var (node, _) in await cluster.PrimariesAsync())
        {
            await CliAsync(node, "cluster", "setslot", Text(slot), "node", targetId);
        }

        Assert.Equal([2L, 2L], ((RedisResult[])(await call)!).Select(r => (long)r));
        lock (retries)
        {
            Assert.Single(retries);
            Assert.True(retries[0] >= 2, $"expected the patient call to be re-sent, saw {retries[0]} re-sends");
        }

        Assert.False(patient.Runner.IsCircuitOpen);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static async Task<string> CliAsync(RedisServerProcess node, params string[] arguments)
    {
        var (code, output) = await RedisClusterProcess.RedisCliAsync(["-p", Text(node.Port), .. arguments]);
        Assert.True(code == 0 && !output.StartsWith("ERR", StringComparison.Ordinal), $"redis-cli {string.Join(' ', arguments)}: {output}");
        return output.Trim();
    }

    /// <summary>How many TRYAGAIN errors <paramref name="node"/> has answered (<c>INFO errorstats</c>).</summary>
    private static async Task<long> TryAgainCountAsync(RedisServerProcess node)
    {
        var info = await CliAsync(node, "info", "errorstats");
        foreach (var line in info.Split('\n'))
        {
            // errorstat_TRYAGAIN:count=3
            if (line.StartsWith("errorstat_TRYAGAIN:count=", StringComparison.Ordinal))
            {
                return long.Parse(line["errorstat_TRYAGAIN:count=".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
