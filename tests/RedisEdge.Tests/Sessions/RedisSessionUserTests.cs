using System.Net;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>Binding sessions to users: the per-user limit counts live sessions only, and binding never keeps a client's id.</summary>
public abstract class RedisSessionUserTests(RedisTestServer redis)
{
    private static readonly Dictionary<string, string?> MaxTwo = new()
    {
        ["RedisEdge:Sessions:MaxSessionsPerUser"] = "2",
        ["RedisEdge:Sessions:IdleTimeout"] = "00:20:00",
    };

    [Fact]
    public async Task MaxSessionsPerUser_IdledOutSessionsDoNotCount()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2, MaxTwo);
        var a = new SessionBrowser();
        var b = new SessionBrowser();
        await a.PostAsync(fleet[0], "/login/alice");
        await b.PostAsync(fleet[1], "/login/alice");

        // B idles out: Redis expires its hash; the user's index still names it.
        var bKey = SessionTestApp.SessionKey(fleet, b.Cookie!);
        await redis.Database.KeyExpireAsync(bKey, TimeSpan.FromMilliseconds(1));
        await WaitUntilGoneAsync(bKey);

        var c = new SessionBrowser();
        await c.PostAsync(fleet[0], "/login/alice");

        // A and C are the two live sessions: nothing had to be evicted.
        Assert.Equal("alice", await a.GetAsync(fleet[1], "/me"));
        Assert.Equal("alice", await c.GetAsync(fleet[1], "/me"));
        var listed = (await c.GetAsync(fleet[0], "/sessions/alice")).Split(',');
        Assert.Equal(2, listed.Length);
        Assert.Equal(2, await redis.Database.SortedSetLengthAsync(UserIndex(fleet, "alice")));
    }

    [Fact]
    public async Task MaxSessionsPerUser_EvictsTheLeastRecentlyUsedLiveSession_NotTheOldest()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2, MaxTwo);
        var a = new SessionBrowser();
        var b = new SessionBrowser();
        await a.PostAsync(fleet[0], "/login/alice");
        await b.PostAsync(fleet[1], "/login/alice");

        // A is the oldest session, but B was last used ten minutes ago (its idle TTL says so) and A just now.
        await redis.Database.KeyExpireAsync(SessionTestApp.SessionKey(fleet, b.Cookie!), TimeSpan.FromMinutes(10));
        Assert.Equal("alice", await a.GetAsync(fleet[1], "/me"));

        var c = new SessionBrowser();
        await c.PostAsync(fleet[0], "/login/alice");

        using var bMe = await b.SendAsync(fleet[0], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Unauthorized, bMe.StatusCode);
        Assert.Equal("alice", await a.GetAsync(fleet[1], "/me"));
        Assert.Equal("alice", await c.GetAsync(fleet[1], "/me"));
        Assert.Equal(2, (await c.GetAsync(fleet[0], "/sessions/alice")).Split(',').Length);
        Assert.False(await redis.Database.KeyExistsAsync(SessionTestApp.SessionKey(fleet, b.Cookie!)));
        Assert.Equal(2, await redis.Database.SortedSetLengthAsync(UserIndex(fleet, "alice")));
    }

    [Fact]
    public async Task BindWithoutRegenerate_MovesTheSessionToAFreshId_APlantedLiveIdIsNeverBound()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2);
        var attacker = new SessionBrowser();
        await attacker.PostAsync(fleet[0], "/set/cart/1");
        var planted = attacker.Cookie!;
        var victim = new SessionBrowser { Cookie = planted };

        // The endpoint calls BindUserAsync only; it forgot RegenerateAsync.
        var handle = await victim.PostAsync(fleet[1], "/bind/alice");

        Assert.NotEqual(planted, victim.Cookie);
        Assert.NotEqual(attacker.Cookie, victim.Cookie);
        Assert.Equal("alice", await victim.GetAsync(fleet[0], "/me"));
        Assert.Equal("1", await victim.GetAsync(fleet[0], "/get/cart"));
        Assert.Equal(handle, await victim.GetAsync(fleet[0], "/sessions/alice"));
        Assert.Equal("(null)", await attacker.GetAsync(fleet[1], "/get/user"));
        using var attackerMe = await new SessionBrowser { Cookie = planted }.SendAsync(fleet[0], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Unauthorized, attackerMe.StatusCode);
    }

    [Fact]
    public async Task BindAfterRegenerateInTheSameRequest_KeepsTheFreshId()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/1");
        var anonymous = browser.Cookie;

        // /login regenerates, then binds: one new id, not two.
        var handle = await browser.PostAsync(fleet[0], "/login/alice");

        Assert.NotEqual(anonymous, browser.Cookie);
        Assert.Equal(handle, RedisEdge.Internal.RedisKeyBuilder.Hash(browser.Cookie!));
        Assert.Equal(handle, await browser.GetAsync(fleet[0], "/sessions/alice"));
        Assert.Equal(1, (await redis.KeysAsync(fleet.KeyPrefix)).Count(k => !k.EndsWith(":user", StringComparison.Ordinal)));
    }

    private static string UserIndex(RedisFleet fleet, string user) =>
        $"{fleet.KeyPrefix}:sessions:{{{RedisEdge.Sessions.Internal.RedisSessionStore.UserTag(user)}}}:user";

    private async Task WaitUntilGoneAsync(string key)
    {
        for (var i = 0; i < 200 && await redis.Database.KeyExistsAsync(key); i++)
        {
            await Task.Delay(5);
        }

        Assert.False(await redis.Database.KeyExistsAsync(key));
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionUserTestsOnSingleNode(RedisServerFixture redis) : RedisSessionUserTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisSessionUserTestsOnCluster(RedisClusterFixture redis) : RedisSessionUserTests(redis);
