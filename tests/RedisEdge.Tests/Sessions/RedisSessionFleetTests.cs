using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

public abstract class RedisSessionFleetTests(RedisTestServer redis)
{
    [Fact]
    public async Task LoginOnA_ReadOnB_WriteOnC_ReadOnA_SessionFollowsTheUser()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        var browser = new SessionBrowser();

        await browser.PostAsync(fleet[0], "/login/alice");
        Assert.Equal("alice", await browser.GetAsync(fleet[1], "/get/user"));
        await browser.PostAsync(fleet[2], "/set/cart/3");
        Assert.Equal("3", await browser.GetAsync(fleet[0], "/get/cart"));
        Assert.Equal("alice", await browser.GetAsync(fleet[0], "/me"));
    }

    [Fact]
    public async Task ConcurrentWritesOfDifferentKeys_FromDifferentInstances_AllSurvive()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/base/0");

        // B and C both load the session before either commits: a whole-blob store would lose one change.
        var onB = browser.PostAsync(fleet[1], "/gated-set/b/1");
        var onC = browser.PostAsync(fleet[2], "/gated-set/c/2");
        await Gate(fleet[1]).Loaded;
        await Gate(fleet[2]).Loaded;
        await browser.PostAsync(fleet[0], "/set/a/3");
        Gate(fleet[1]).Release();
        Gate(fleet[2]).Release();
        await Task.WhenAll(onB, onC);

        Assert.Equal("0", await browser.GetAsync(fleet[0], "/get/base"));
        Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/b"));
        Assert.Equal("2", await browser.GetAsync(fleet[1], "/get/c"));
        Assert.Equal("3", await browser.GetAsync(fleet[2], "/get/a"));
    }

    [Fact]
    public async Task LogoutOnA_MakesInFlightCommitOnB_ANoOp()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/login/alice");
        var sessionKey = SessionTestApp.SessionKey(fleet, browser.Cookie!);
        var staleCookie = browser.Cookie;

        var inFlight = browser.PostAsync(fleet[1], "/gated-set/cart/9");
        await Gate(fleet[1]).Loaded;
        await browser.PostAsync(fleet[0], "/logout");
        Assert.Null(browser.Cookie);
        Gate(fleet[1]).Release();
        await inFlight;

        Assert.False(await redis.Database.KeyExistsAsync(sessionKey));
        var replay = new SessionBrowser { Cookie = staleCookie };
        Assert.Equal("(null)", await replay.GetAsync(fleet[1], "/get/user"));
        Assert.Equal("(null)", await replay.GetAsync(fleet[0], "/get/cart"));
        using var me = await replay.SendAsync(fleet[0], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }

    [Fact]
    public async Task Regenerate_OldIdStopsWorking_DataKept()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/5");
        var oldCookie = browser.Cookie!;
        var oldHandle = await browser.GetAsync(fleet[0], "/id");

        var newHandle = await browser.PostAsync(fleet[1], "/regenerate");

        Assert.NotEqual(oldCookie, browser.Cookie);
        Assert.NotEqual(oldHandle, newHandle);
        Assert.Equal("5", await browser.GetAsync(fleet[0], "/get/cart"));
        Assert.False(await redis.Database.KeyExistsAsync(SessionTestApp.SessionKey(fleet, oldCookie)));
        var attacker = new SessionBrowser { Cookie = oldCookie };
        Assert.Equal("(null)", await attacker.GetAsync(fleet[1], "/get/cart"));
    }

    [Fact]
    public async Task LoginRegenerates_APlantedIdIsNeverAdopted()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 1);
        var victim = new SessionBrowser { Cookie = RedisEdge.Sessions.Internal.RedisSessionIds.Create() };
        var planted = victim.Cookie;

        await victim.PostAsync(fleet[0], "/login/alice");

        Assert.NotNull(victim.Cookie);
        Assert.NotEqual(planted, victim.Cookie);
        var attacker = new SessionBrowser { Cookie = planted };
        Assert.Equal("(null)", await attacker.GetAsync(fleet[0], "/get/user"));
    }

    [Fact]
    public async Task RevokeAll_EndsEverySessionOfTheUser_OnEveryInstance()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        var alice = Enumerable.Range(0, 3).Select(_ => new SessionBrowser()).ToArray();
        for (var i = 0; i < alice.Length; i++)
        {
            await alice[i].PostAsync(fleet[i], "/login/alice");
        }

        var bob = new SessionBrowser();
        await bob.PostAsync(fleet[0], "/login/bob");
        Assert.Equal(3, (await bob.GetAsync(fleet[2], "/sessions/alice")).Split(',').Length);

        Assert.Equal("3", await bob.PostAsync(fleet[1], "/revoke-all/alice"));

        foreach (var instance in fleet.Instances)
        {
            foreach (var browser in alice)
            {
                var copy = new SessionBrowser { Cookie = browser.Cookie };
                using var response = await copy.SendAsync(instance, HttpMethod.Get, "/me");
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }

        Assert.Equal("bob", await bob.GetAsync(fleet[2], "/me"));
        Assert.Equal(string.Empty, await bob.GetAsync(fleet[0], "/sessions/alice"));
    }

    [Fact]
    public async Task MaxSessionsPerUser_RevokesTheOldest()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2, new Dictionary<string, string?> { ["RedisEdge:Sessions:MaxSessionsPerUser"] = "2" });
        var first = new SessionBrowser();
        var second = new SessionBrowser();
        var third = new SessionBrowser();
        await first.PostAsync(fleet[0], "/login/alice");
        await second.PostAsync(fleet[1], "/login/alice");
        await third.PostAsync(fleet[0], "/login/alice");

        using var firstMe = await first.SendAsync(fleet[1], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Unauthorized, firstMe.StatusCode);
        Assert.Equal("alice", await second.GetAsync(fleet[0], "/me"));
        Assert.Equal("alice", await third.GetAsync(fleet[1], "/me"));
        Assert.Equal(2, (await third.GetAsync(fleet[0], "/sessions/alice")).Split(',').Length);
    }

    [Fact]
    public async Task RequireSession_WithoutLiveSession_Returns401_OnAttributeAndBuilder()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var anonymous = new SessionBrowser();
        using var viaAttribute = await anonymous.SendAsync(fleet[0], HttpMethod.Get, "/me");
        using var viaBuilder = await anonymous.SendAsync(fleet[0], HttpMethod.Get, "/me-builder");
        Assert.Equal(HttpStatusCode.Unauthorized, viaAttribute.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, viaBuilder.StatusCode);
        Assert.Equal("application/problem+json", viaAttribute.Content.Headers.ContentType?.MediaType);

        await anonymous.PostAsync(fleet[0], "/set/user/x");
        Assert.Equal("x", await anonymous.GetAsync(fleet[0], "/me-builder"));
    }

    [Fact]
    public async Task OnSessionRequired_ReplacesThe401_AndTheEndpointDoesNotRun()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis.Configuration, configure: builder =>
            builder.Services.Configure<RedisSessionOptions>(o => o.OnSessionRequired = context =>
            {
                context.Response.Redirect("/login?returnUrl=" + Uri.EscapeDataString(context.Request.Path));
                return Task.CompletedTask;
            }));
        var anonymous = new SessionBrowser();
        using var response = await anonymous.SendAsync(fleet[0], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/login?returnUrl=%2Fme", response.Headers.Location?.OriginalString);
        Assert.Equal(string.Empty, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RegenerateABoundSession_MovesItInTheUserIndex_SoRevokeAllStillFindsIt()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/login/alice");

        var newHandle = await browser.PostAsync(fleet[1], "/regenerate");

        Assert.Equal(newHandle, await browser.GetAsync(fleet[0], "/sessions/alice"));
        Assert.Equal("1", await browser.PostAsync(fleet[1], "/revoke-all/alice"));
        using var me = await browser.SendAsync(fleet[0], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }

    [Fact]
    public async Task HeaderTransport_FollowsTheClientAcrossInstances_WithoutCookies()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2, new Dictionary<string, string?> { ["RedisEdge:Sessions:HeaderName"] = "X-Session-Id" });

        using var first = new HttpRequestMessage(HttpMethod.Post, "/set/k/v");
        first.Headers.Add("X-Session-Id", "new");
        using var created = await fleet[0].Client.SendAsync(first);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.False(created.Headers.Contains("Set-Cookie"));
        var id = created.Headers.GetValues("X-Session-Id").Single();

        using var second = new HttpRequestMessage(HttpMethod.Get, "/get/k");
        second.Headers.Add("X-Session-Id", id);
        using var read = await fleet[1].Client.SendAsync(second);
        Assert.Equal("v", await read.Content.ReadAsStringAsync());
        Assert.False(read.Headers.Contains("X-Session-Id"));
    }

    private static TestGate Gate(RedisFleetInstance instance) =>
        (TestGate)instance.Services.GetService(typeof(TestGate))!;
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
[Trait(ParityTrait.Name, ParityTrait.Value)]
public sealed class RedisSessionFleetTestsOnSingleNode(RedisServerFixture redis) : RedisSessionFleetTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisSessionFleetTestsOnCluster(RedisClusterFixture redis) : RedisSessionFleetTests(redis);
