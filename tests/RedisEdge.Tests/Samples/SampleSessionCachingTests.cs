using System.Net;
using Microsoft.AspNetCore.Hosting;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.ResponseCaching;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample's session login followed by its cached GET /welcome, which greets from the session.</summary>
public abstract class SampleSessionCachingTests(RedisTestServer redis)
{
    [Fact]
    public async Task Welcome_BuiltFromAlicesSession_IsNeverServedToAClientWithoutHerCookie()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        await using var factory = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        await using var other = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        var alice = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/session/login?user=alice", null)).StatusCode);

        var greeting = await alice.GetAsync("/welcome");
        Assert.Equal("hello alice", await greeting.Content.ReadAsStringAsync());
        Assert.Equal("hello alice", await alice.GetStringAsync("/welcome"));

        // Another client with no cookie at all, on the same instance and on another one over the same Redis.
        Assert.Equal("hello guest", await factory.CreateClient().GetStringAsync("/welcome"));
        Assert.Equal("hello guest", await other.CreateClient().GetStringAsync("/welcome"));
        Assert.Equal("hello alice", await alice.GetStringAsync("/welcome"));
        Assert.Contains("detail=not-storable-session", greeting.CacheStatus(), StringComparison.Ordinal);
    }
}

[Collection(RedisCollection.Name)]
public sealed class SampleSessionCachingTestsOnSingleNode(RedisServerFixture redis) : SampleSessionCachingTests(redis);

[Collection(RedisClusterCollection.Name)]
public sealed class SampleSessionCachingTestsOnCluster(RedisClusterFixture redis) : SampleSessionCachingTests(redis);
