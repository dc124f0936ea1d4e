using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.Sessions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.Cluster;

/// <summary>
/// Redis memory per unit of state (<c>MEMORY USAGE</c>, averaged over many keys), the figures the README's "Scaling out"
/// section uses to size a deployment. The bounds are the documented figures with headroom: a change that makes the
/// state much larger fails here and must update the README.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class MemoryFootprintTests(RedisServerFixture redis, ITestOutputHelper output)
{
    [Fact]
    public async Task Session_BoundToAUser_WithTwoSmallValues()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        const int Sessions = 100;
        for (var i = 0; i < Sessions; i++)
        {
            var browser = new SessionBrowser();
            await browser.PostAsync(fleet[0], $"/login/user{i % 10}");
            await browser.PostAsync(fleet[0], "/set/cart/123");
        }

        var keys = await redis.KeysAsync(fleet.KeyPrefix);
        var indexes = keys.Where(k => k.EndsWith(":user", StringComparison.Ordinal)).ToList();
        var sessions = keys.Except(indexes).ToList();
        Assert.Equal(Sessions, sessions.Count);
        Assert.Equal(10, indexes.Count);

        var perSession = await AverageUsageAsync(sessions);
        var perIndexEntry = (await TotalUsageAsync(indexes)) / (double)Sessions;
        Report($"session (user bound, values \"user\" and \"cart\"): {perSession:0} B per session hash + {perIndexEntry:0} B per entry in its user's index (10 sessions per user)");
        Assert.InRange(perSession, 50, 400);
        Assert.InRange(perIndexEntry, 10, 200);
    }

    private void Report(string line)
    {
        output.WriteLine(line);
        Console.WriteLine("[memory figures] " + line);
    }

    private async Task<double> AverageUsageAsync(List<string> keys) => (await TotalUsageAsync(keys)) / (double)keys.Count;

    private async Task<long> TotalUsageAsync(IEnumerable<string> keys)
    {
        long total = 0;
        foreach (var key in keys)
        {
            // SAMPLES 0: measure every element of the key, not an estimate from a sample.
            total += (long)await redis.Database.ExecuteAsync("MEMORY", "USAGE", (RedisKey)key, "SAMPLES", "0");
        }

        return total;
    }
}
