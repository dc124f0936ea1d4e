using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.Sessions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.Cluster;

/// <summary>
/// Kill the primary that serves the feature's keys while three app instances run load on a real six-node cluster: the
/// clients may get the feature's outage answer (a 503 with Retry-After) while the replica is promoted, never a 500, and
/// the feature recovers without restarting the apps. The figures (503s, recovery time, lost writes) are printed for the
/// README's "Scaling out" section.
/// </summary>
public sealed class ClusterFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sessions_PrimaryKilledUnderLoad_No5xxBut503_RecoversWithoutRestart()
    {
        await using var cluster = await RedisClusterProcess.StartAsync();
        await using var fleet = await SessionTestApp.StartAsync(cluster.Configuration, instances: 3);
        var load = new ClusterChaos.SessionLoad(fleet, workers: 12);
        await using var recorder = LoadRecorder.Start(12, load.RequestAsync);
        await recorder.WaitForSuccessesAsync(TimeSpan.Zero, 20, RecoveryBound, worker: 0);

        var victim = await cluster.PrimaryForAsync(SessionTestApp.SessionKey(fleet, load.CookieOf(0)!));
        var killedAt = await KillAndWaitForPromotionAsync(cluster, victim, recorder);
        await recorder.WaitForSuccessesAsync(recorder["promoted"], 10, RecoveryBound, worker: 0);
        var recoveredAt = recorder.Mark("worker 0 recovered");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var steadyFrom = recorder.Mark("steady");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await recorder.StopAsync();

        var report = ClusterChaos.Report.Of(recorder.Outcomes, killedAt);
        ClusterChaos.Log(output, report.Describe("sessions, primary killed") +
            $"; promoted after {(recorder["promoted"] - killedAt).TotalMilliseconds:0} ms, worker 0 (session on the killed primary) served again after {(recoveredAt - killedAt).TotalMilliseconds:0} ms; lost writes: {load.LostWrites}");
        Assert.Empty(report.Defects);
        Assert.All(recorder.Outcomes.Where(o => o.At >= steadyFrom), o => Assert.True(o.IsSuccess, $"{o.Status} {o.Detail}"));
    }

    private static async Task<TimeSpan> KillAndWaitForPromotionAsync(RedisClusterProcess cluster, RedisServerProcess victim, LoadRecorder recorder)
    {
        var killedAt = recorder.Mark("kill");
        await victim.KillAsync();
        await cluster.WaitUntilFailedOverAsync(victim, RecoveryBound);
        recorder.Mark("promoted");
        return killedAt;
    }

    /// <summary>The one key under <paramref name="prefix"/> (a Global partition's counter), wherever it lives.</summary>
    internal static async Task<RedisKey> SingleKeyAsync(ConnectionMultiplexer admin, string prefix)
    {
        var keys = new List<RedisKey>();
        foreach (var server in admin.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: prefix + "*"))
            {
                keys.Add(key);
            }
        }

        return Assert.Single(keys);
    }
}
