using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>The cluster fixture itself: six real nodes, every slot served, keys routed by hash tag.</summary>
public sealed class RedisClusterProcessTests
{
    [Fact]
    public async Task Start_SixNodes_ThreePrimariesServeEverySlot_AndHashSlotMatchesTheServer()
    {
        await using var cluster = await RedisClusterProcess.StartAsync();

        Assert.Equal(6, cluster.Nodes.Count);
        var primaries = await cluster.PrimariesAsync();
        Assert.Equal(3, primaries.Count);
        Assert.Equal(16384, primaries.Sum(p => p.Slots.Sum(r => r.High - r.Low + 1)));

        await using var client = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        foreach (var key in new RedisKey[] { "plain", "re:rl:{abc}:policy", "re:sess:{xyz}", "{}odd" })
        {
            var (_, serverSlot) = await RedisClusterProcess.RedisCliAsync(["-p", cluster.Nodes[0].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "cluster", "keyslot", key.ToString()]);
            Assert.Equal(int.Parse(serverSlot.Trim(), System.Globalization.CultureInfo.InvariantCulture), RedisClusterProcess.HashSlot(key));
            await client.GetDatabase().StringSetAsync(key, "v");
            Assert.Equal("v", await client.GetDatabase().StringGetAsync(key));
        }
    }
}
