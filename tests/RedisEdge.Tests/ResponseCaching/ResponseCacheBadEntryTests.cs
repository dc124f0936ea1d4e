using System.Net;
using Microsoft.Extensions.Logging;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Malformed or foreign entries are a logged miss that the next fill replaces, never a 500.</summary>
public abstract class ResponseCacheBadEntryTests(RedisTestServer redis)
{
    [Theory]
    [InlineData("s", "not-a-status")]
    [InlineData("h", "\u0005ab")]
    [InlineData("b", null)]
    [InlineData("c", "not-a-number")]
    public async Task AMalformedEntry_IsAMissThatTheNextFillReplaces_LoggedOnce(string field, string? value)
    {
        var origin = new Origin();
        var logger = new ListLogger();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], logger: logger);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await fleet[0].Client.GetAsync("/items/2");
        var second = (await redis.EntryKeysAsync(fleet)).Single(k => k != key);
        if (value is null)
        {
            await redis.Database.HashDeleteAsync(key, field);
        }
        else
        {
            await redis.Database.HashSetAsync(key, field, value);
        }

        await redis.Database.HashSetAsync(second, "s", "also-bad");

        var first = await fleet[0].Client.GetAsync("/items/1");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("id=1;render=3;user=anonymous", await first.BodyAsync());
        Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);

        // A second bad entry while entries are still unreadable is not logged again.
        var other = await fleet[0].Client.GetAsync("/items/2");
        Assert.Equal("id=2;render=4;user=anonymous", await other.BodyAsync());
        Assert.Single(logger.At(LogLevel.Warning));

        for (var i = 0; i < 3; i++)
        {
            var hit = await fleet[0].Client.GetAsync("/items/1");
            Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal("id=1;render=3;user=anonymous", await hit.BodyAsync());
        }
    }

    [Fact]
    public async Task AnEntryOfAnotherFormatVersion_IsAMiss()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        Assert.True(await redis.Database.HashExistsAsync(key, "v"), "the entry records its format version");
        await redis.Database.HashSetAsync(key, "v", "999");

        var next = await fleet[0].Client.GetAsync("/items/1");
        Assert.Equal("id=1;render=2;user=anonymous", await next.BodyAsync());
        Assert.Contains("stored", next.CacheStatus(), StringComparison.Ordinal);
        Assert.NotEqual((RedisValue)"999", await redis.Database.HashGetAsync(key, "v"));
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheBadEntryTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheBadEntryTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheBadEntryTestsOnCluster(RedisClusterFixture redis) : ResponseCacheBadEntryTests(redis);
