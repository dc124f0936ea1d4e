using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.Cluster;

/// <summary>
/// The breaker is per server: killing one primary fails fast only the calls for its slots. Fail-closed rate limiting
/// with one partition per API key, the keys spread over the three primaries, three app instances under load.
/// </summary>
/// <remarks>
/// The breaker opens on the first failure. With one breaker per feature and instance, the default threshold (five
/// consecutive failures) opened it only when the killed primary's failures came in a row, as with one global
/// partition (fail-closed rate limiting then answered 503 for every partition until 7 s after the kill); a success
/// on another primary in between reset the count. One failure makes the difference certain: a single breaker opens
/// for every slot at the first timeout, a per-server breaker only for the killed primary's.
/// </remarks>
[Collection(ClusterChaosCollection.Name)]
public sealed class ClusterShardBreakerTests(ITestOutputHelper output)
{
    private const int Workers = 12;
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(30);

    // Longer than the production 500 ms, so that a CPU stall of the shared test machine cannot pose as a timeout of a
    // live primary (with the breaker opening at the first failure, one would fail its slots for a break duration).
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task RateLimiting_PrimaryKilledUnderLoad_OtherPrimariesSeeNoFailure_KilledSlotsRecoverWithinABreakPeriod()
    {
        await using var cluster = await RedisClusterProcess.StartAsync();
        await using var fleet = await ClusterChaos.StartRateLimitFleetAsync(cluster.Configuration, new()
        {
            ["RedisEdge:RateLimiting:Policies:api:Partition"] = "Header",
            ["RedisEdge:RateLimiting:Policies:api:PartitionName"] = "X-Api-Key",
            ["RedisEdge:RateLimiting:Failure:BreakAfterFailures"] = "1",
            ["RedisEdge:RateLimiting:Failure:Timeout"] = CallTimeout.ToString(),
        });
        await using var admin = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);

        // Worker w counts against API key "key-w": find the primary of each key's counter, one key at a time.
        var primaryOf = new int[Workers];
        var counterOf = new RedisKey[Workers];
        var seen = new HashSet<RedisKey>();
        for (var w = 0; w < Workers; w++)
        {
            using (var response = await SendAsync(fleet[0], w, CancellationToken.None))
            {
                Assert.True(response.IsSuccessStatusCode, $"warm-up of key-{w}: {(int)response.StatusCode}");
            }

            var keys = await ClusterChaos.KeysAsync(admin, fleet.KeyPrefix);
            var counter = Assert.Single(keys, k => !seen.Contains(k));
            seen.UnionWith(keys);
            counterOf[w] = counter;
            primaryOf[w] = (await cluster.PrimaryForAsync(counter)).Port;
        }

        var victimPort = primaryOf[0];
        var onVictim = Enumerable.Range(0, Workers).Where(w => primaryOf[w] == victimPort).ToHashSet();
        Assert.True(onVictim.Count < Workers, "every key landed on one primary; the test needs keys on the others");

        await using var recorder = LoadRecorder.Start(Workers, async (w, i, ct) =>
            await LoadOutcome.FromAsync(await SendAsync(fleet[(int)((w + i) % fleet.Count)], w, ct)));
        await recorder.WaitForSuccessesAsync(TimeSpan.Zero, 50, RecoveryBound);

        var victim = cluster.Nodes.Single(n => n.Port == victimPort);
        var killedAt = recorder.Mark("kill");
        await victim.KillAsync();
        await cluster.WaitUntilFailedOverAsync(victim, RecoveryBound);
        var promotedAt = recorder.Mark("promoted");

        // Each instance's breaker for the killed primary probes once per break duration, so its slots are served again
        // at most one break duration (plus the probe's own timeout) after the promotion.
        var recoveredBy = promotedAt + RedisEdgeDefaults.BreakDuration + CallTimeout;
        while (recorder.Elapsed < recoveredBy + TimeSpan.FromSeconds(2))
        {
            await Task.Delay(100);
        }

        await recorder.StopAsync();

        var afterKill = recorder.Outcomes.Where(o => o.At >= killedAt).ToList();
        var healthy = afterKill.Where(o => !onVictim.Contains(o.Worker)).ToList();
        var killed = afterKill.Where(o => onVictim.Contains(o.Worker)).ToList();
        var lastKilledFailure = killed.Where(o => !o.IsSuccess).Select(o => o.At - killedAt).DefaultIfEmpty().Max();
        ClusterChaos.Log(output,
            $"per-shard breaker, primary killed: {onVictim.Count} of {Workers} keys on it; promoted after {(promotedAt - killedAt).TotalMilliseconds:0} ms; " +
            $"other primaries: {healthy.Count} requests, {healthy.Count(o => !o.IsSuccess)} failed; " +
            $"killed primary's keys: {killed.Count} requests, {killed.Count(o => !o.IsSuccess)} failed, the last at +{lastKilledFailure.TotalMilliseconds:0} ms; " +
            $"breakers (worker@primary->breaker's server, ! when open): " +
            string.Join(" | ", fleet.Instances.Select(instance => string.Join(" ", Enumerable.Range(0, Workers).Select(w =>
            {
                var breaker = instance.Services.GetRequiredService<RedisRateLimiter>().Runner.BreakerFor([counterOf[w]]);
                return $"{w}@{primaryOf[w]}->{(breaker.EndPoint as IPEndPoint)?.Port}{(breaker.IsOpen ? "!" : "")}";
            })))));

        // Keys on the primaries that stayed up never noticed the kill.
        Assert.NotEmpty(healthy);
        Assert.All(healthy, o => Assert.True(o.IsSuccess, $"worker {o.Worker} (key on a live primary) at +{(o.At - killedAt).TotalMilliseconds:0} ms: {o.Status} {o.Detail}"));

        // The killed primary's keys got the fail-closed answer (503 with Retry-After), never anything else, and were
        // served again within a break duration of the promotion.
        Assert.All(killed.Where(o => !o.IsSuccess), o => Assert.Equal(503, o.Status));
        var late = killed.Where(o => o.At > recoveredBy).ToList();
        Assert.NotEmpty(late);
        Assert.All(late, o => Assert.True(o.IsSuccess, $"worker {o.Worker} (key on the killed primary) at +{(o.At - killedAt).TotalMilliseconds:0} ms: {o.Status} {o.Detail}"));

        // On every instance the killed primary's slots now use the breaker of the promoted replica, which is closed.
        var promoted = (await cluster.PrimaryForAsync(counterOf[0])).Port;
        Assert.NotEqual(victimPort, promoted);
        foreach (var instance in fleet.Instances)
        {
            var runner = instance.Services.GetRequiredService<RedisRateLimiter>().Runner;
            foreach (var w in onVictim)
            {
                var breaker = runner.BreakerFor([counterOf[w]]);
                Assert.Equal(promoted, Assert.IsType<IPEndPoint>(breaker.EndPoint).Port);
                Assert.False(breaker.IsOpen);
            }

            Assert.Contains(Enumerable.Range(0, Workers), w => !onVictim.Contains(w) && runner.BreakerFor([counterOf[w]]).EndPoint is IPEndPoint ip && ip.Port == primaryOf[w]);
        }
    }

    private static Task<HttpResponseMessage> SendAsync(RedisFleetInstance instance, int worker, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/rl");
        request.Headers.Add("X-Api-Key", $"key-{worker}");
        return instance.Client.SendAsync(request, cancellationToken);
    }
}
