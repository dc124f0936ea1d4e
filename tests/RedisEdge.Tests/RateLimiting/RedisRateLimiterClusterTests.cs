using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// RedisEdge policies as <see cref="RateLimiter"/>s on the shared six-node Redis Cluster: the local deny cache follows
/// the middleware's rule, and partitions in different slots each hold their exact limit, concurrency leases included.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisRateLimiterClusterTests(RedisClusterFixture cluster)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task DenyCache_RemembersTheLimitersRejections_ExceptOfAPolicyAnEndpointReservesAcrossSlots()
    {
        // "key" is combined on /both with the differently partitioned "ip": a /both request may reserve a "key" permit
        // in its slot and refund it, so a rejection of "key" may not be remembered. "partner" is on no such endpoint.
        var settings = new Dictionary<string, string?>()
            .Policy("partner", RedisRateLimitAlgorithm.FixedWindow, 2, Hour)
            .Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Ip"))
            .Policy("key", RedisRateLimitAlgorithm.FixedWindow, 1, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"));
        await using var fleet = await RateLimitTestApp.StartAsync(
            cluster,
            settings,
            (app, _) => app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key"));
        var instance = fleet[0];
        Assert.True(instance.Services.GetRequiredService<RedisRateLimiter>().OnCluster);
        var factory = instance.Services.GetRequiredService<IRedisRateLimiterFactory>();

        var partner = factory.Create("partner", "any");
        Assert.True((await partner.AcquireAsync()).IsAcquired);
        Assert.True((await partner.AcquireAsync()).IsAcquired);
        using (var scope = instance.Commands.Begin())
        {
            Assert.False((await partner.AcquireAsync()).IsAcquired);
            Assert.Equal(["EVAL"], scope.Commands);
        }

        using (var scope = instance.Commands.Begin())
        {
            var remembered = await partner.AcquireAsync();
            Assert.False(remembered.IsAcquired);
            Assert.True(remembered.TryGetMetadata(MetadataName.RetryAfter, out var retry) && retry > TimeSpan.Zero);
            Assert.Empty(scope.Commands);
        }

        var key = factory.Create("key", "k1");
        Assert.True((await key.AcquireAsync()).IsAcquired);
        for (var i = 0; i < 2; i++)
        {
            using var scope = instance.Commands.Begin();
            Assert.False((await key.AcquireAsync()).IsAcquired);
            Assert.Equal(["EVAL"], scope.Commands);
        }
    }

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.Concurrency)]
    public async Task PartitionsInDifferentSlots_ThreeInstances64CallersEach_EachPartitionHoldsExactlyItsLimit(RedisRateLimitAlgorithm algorithm)
    {
        // Fixed window: exactly the limit granted per partition. Concurrency: leases held (never disposed here) up to
        // exactly the limit per partition, then every one released.
        const int limit = 20;
        const int callers = 64;
        string[] partitions = ["alpha", "bravo", "charlie"];
        var settings = new Dictionary<string, string?>()
            .Policy("host", algorithm, limit, algorithm == RedisRateLimitAlgorithm.Concurrency ? null : Hour, ("Partition", "Header"), ("PartitionName", "Host"));
        await using var fleet = await RateLimitTestApp.StartAsync(cluster, settings, (_, _) => { }, instances: 3);
        var limiters = fleet.Instances
            .Select(i => i.Services.GetRequiredService<IRedisRateLimiterFactory>().CreatePartitioned<string>("host", p => p))
            .ToList();

        var results = await Task.WhenAll(Enumerable.Range(0, 3 * callers).Select(async c =>
        {
            var mine = new List<(string Partition, RateLimitLease Lease)>();
            for (var r = 0; r < 3; r++)
            {
                var partition = partitions[(c + r) % partitions.Length];
                mine.Add((partition, await limiters[c % 3].AcquireAsync(partition)));
            }

            return mine;
        }));
        var leases = results.SelectMany(l => l).ToList();

        var keys = await cluster.KeysAsync(fleet.KeyPrefix + ":rl:");
        Assert.Equal(3, keys.Count);
        Assert.True(keys.Select(k => cluster.Admin.HashSlot(k)).Distinct().Count() > 1, "The partitions share one slot.");
        foreach (var partition in partitions)
        {
            Assert.Equal(limit, leases.Count(l => l.Partition == partition && l.Lease.IsAcquired));
        }

        if (algorithm == RedisRateLimitAlgorithm.Concurrency)
        {
            Assert.All(keys, k => Assert.Equal(limit, cluster.Database.SortedSetLength(k)));
            var granted = leases.Where(l => l.Lease.IsAcquired).Select(l => l.Lease).ToList();
            granted.ForEach(l => l.Dispose());
            await Task.WhenAll(granted.Select(l => ((RedisConcurrencyLease)l).Released));
            Assert.Empty(await cluster.KeysAsync(fleet.KeyPrefix + ":rl:"));
        }
    }
}
