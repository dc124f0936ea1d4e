using System.Net;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// What several instances over one Redis must agree on: the last write of a key wins, a user can only revoke their own
/// sessions, and no request leaves a session in Redis that no client can reach.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionIntegrityTests(RedisServerFixture redis)
{
    [Fact]
    public async Task SetEqualToTheLoadedValue_AfterAConcurrentChange_IsTheLastWriteAndWins()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/1");

        // R1 (on B) loads k=1; R2 (on C) commits k=2; R1 then sets k=1 and commits last.
        var r1 = browser.PostAsync(fleet[1], "/gated-set/k/1");
        await Gate(fleet[1]).Loaded;
        await browser.PostAsync(fleet[2], "/set/k/2");
        Gate(fleet[1]).Release();
        await r1;

        Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/k"));
    }

    [Fact]
    public async Task RevokeSession_RefusesUnboundSessionsAndOtherUsersSessions_RevokesTheUsersOwn()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        var alice = new SessionBrowser();
        var aliceHandle = await alice.PostAsync(fleet[0], "/login/alice");
        var anonymous = new SessionBrowser();
        await anonymous.PostAsync(fleet[1], "/set/cart/1");
        var anonymousHandle = await anonymous.GetAsync(fleet[2], "/id");
        var bob = new SessionBrowser();
        var bobHandle = await bob.PostAsync(fleet[2], "/login/bob");

        // Session.Id is loggable: knowing it must not let "alice" revoke sessions that are not hers.
        Assert.Equal("False", await alice.PostAsync(fleet[1], $"/revoke/alice/{anonymousHandle}"));
        Assert.Equal("False", await alice.PostAsync(fleet[2], $"/revoke/alice/{bobHandle}"));
        Assert.Equal("1", await anonymous.GetAsync(fleet[0], "/get/cart"));
        Assert.Equal("bob", await bob.GetAsync(fleet[1], "/me"));

        Assert.Equal("True", await bob.PostAsync(fleet[0], $"/revoke/alice/{aliceHandle}"));
        using var me = await alice.SendAsync(fleet[1], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.Equal(string.Empty, await bob.GetAsync(fleet[2], "/sessions/alice"));
    }

    [Fact]
    public async Task SetOnANewSession_AfterTheResponseStarted_ThrowsBeforeRecording_NoOrphanSession()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        var browser = new SessionBrowser();

        // The endpoint catches the exception and carries on, as user code may.
        Assert.Equal("started;refused", await browser.PostAsync(fleet[0], "/set-after-start/k/v"));

        Assert.Null(browser.Cookie);
        Assert.Empty(await redis.KeysAsync(fleet.KeyPrefix));
    }

    [Fact]
    public async Task ConcurrentLogins_UnderMaxSessionsPerUser_NoneAnswers503_TheNextLoginTrimsToTheLimit()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3, new Dictionary<string, string?> { ["RedisEdge:Sessions:MaxSessionsPerUser"] = "1" });
        var store = (RedisSessionStore)fleet[0].Services.GetService(typeof(RedisSessionStore))!;
        var atActivate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var proceed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.BeforeScriptCall = async name =>
        {
            if (name == "activate")
            {
                atActivate.TrySetResult();
                await proceed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
        };

        // The first login is indexed but not yet active when a second device logs in on another instance.
        var first = new SessionBrowser();
        var firstLogin = first.SendAsync(fleet[0], HttpMethod.Post, "/login/alice");
        await atActivate.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var second = new SessionBrowser();
        await second.PostAsync(fleet[1], "/login/alice");
        proceed.SetResult();
        using (var response = await firstLogin)
        {
            store.BeforeScriptCall = null;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal("alice", await first.GetAsync(fleet[2], "/me"));
        Assert.Equal("alice", await second.GetAsync(fleet[2], "/me"));

        var third = new SessionBrowser();
        var thirdHandle = await third.PostAsync(fleet[2], "/login/alice");
        Assert.Equal(thirdHandle, await third.GetAsync(fleet[0], "/sessions/alice"));
        Assert.Equal("alice", await third.GetAsync(fleet[1], "/me"));
    }

    private static TestGate Gate(RedisFleetInstance instance) => (TestGate)instance.Services.GetService(typeof(TestGate))!;
}
