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
        await recorder.WaitForQuietAsync(killedAt, TimeSpan.FromSeconds(2), RecoveryBound);
        var steadyFrom = recorder.Mark("steady");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await recorder.StopAsync();

        var report = ClusterChaos.Report.Of(recorder.Outcomes, killedAt);
        ClusterChaos.Log(output, report.Describe("sessions, primary killed") +
            $"; promoted after {(recorder["promoted"] - killedAt).TotalMilliseconds:0} ms, worker 0 (session on the killed primary) served again after {(recoveredAt - killedAt).TotalMilliseconds:0} ms; lost writes: {load.LostWrites}");
        Assert.Empty(report.Defects);
        Assert.All(recorder.Outcomes.Where(o => o.At >= steadyFrom), o => Assert.True(o.IsSuccess, $"{o.Status} {o.Detail}"));
    }

    [Fact]
    public async Task RateLimiting_PrimaryKilledUnderLoad_FailClosed503NotA500_RecoversWithoutRestart()
    {
        await using var cluster = await RedisClusterProcess.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["RedisEdge:RateLimiting:Failure:Mode"] = "FailClosed",
            ["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "FixedWindow",
            ["RedisEdge:RateLimiting:Policies:api:PermitLimit"] = "1000000000",
            ["RedisEdge:RateLimiting:Policies:api:Window"] = "01:00:00",
            ["RedisEdge:RateLimiting:Policies:api:Partition"] = "Global",
        };
        await using var fleet = await RedisFleet.StartAsync(
            cluster.Configuration,
            3,
            (builder, _) => builder.Services.AddRedisEdge().AddRateLimiting(),
            (app, _) =>
            {
                app.UseRedisRateLimiting();
                app.MapGet("/rl", () => "ok").RequireRateLimit("api");
            },
            settings);
        await using var recorder = LoadRecorder.Start(12, async (w, i, ct) =>
            await LoadOutcome.FromAsync(await fleet[(int)((w + i) % 3)].Client.GetAsync("/rl", ct)));
        await recorder.WaitForSuccessesAsync(TimeSpan.Zero, 50, RecoveryBound);

        await using var admin = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        var counterKey = await SingleKeyAsync(admin, fleet.KeyPrefix);
        var victim = await cluster.PrimaryForAsync(counterKey);
        var before = (long)await admin.GetDatabase().HashGetAsync(counterKey, "c");
        var killedAt = await KillAndWaitForPromotionAsync(cluster, victim, recorder);
        var acceptedBeforeKill = recorder.Outcomes.Count(o => o.At < killedAt && o.IsSuccess);
        await recorder.WaitForSuccessesAsync(recorder["promoted"], 50, RecoveryBound);
        var recoveredAt = recorder.Mark("recovered");
        await recorder.WaitForQuietAsync(killedAt, TimeSpan.FromSeconds(2), RecoveryBound);
        var steadyFrom = recorder.Mark("steady");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await recorder.StopAsync();

        var report = ClusterChaos.Report.Of(recorder.Outcomes, killedAt);
        var acceptedTotal = recorder.Outcomes.Count(o => o.IsSuccess);
        var counted = (long)await admin.GetDatabase().HashGetAsync(counterKey, "c");
        ClusterChaos.Log(output, report.Describe("rate limiting (fail closed), primary killed") +
            $"; promoted after {(recorder["promoted"] - killedAt).TotalMilliseconds:0} ms, decisions again after {(recoveredAt - killedAt).TotalMilliseconds:0} ms; " +
            $"accepted {acceptedTotal}, counter on the new primary {counted} (accepted but not counted: {Math.Max(0, acceptedTotal - counted)}; counter read {before} shortly before the kill, {acceptedBeforeKill} accepted before it)");
        Assert.Empty(report.Defects);
        Assert.All(recorder.Outcomes.Where(o => o.At >= steadyFrom), o => Assert.True(o.IsSuccess, $"{o.Status} {o.Detail}"));

        // Asynchronous replication may lose the last increments before the kill, never invent ones: the new primary's
        // count is at most what was accepted, plus calls that failed after Redis counted them.
        Assert.InRange(counted, 1, acceptedTotal + recorder.Outcomes.Count(o => !o.IsSuccess));
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
