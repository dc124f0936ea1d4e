using System.Net;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionFailureTests(RedisServerFixture redis)
{
    // A port nothing listens on: every script call fails fast with a connection error.
    private static Dictionary<string, string?> Unreachable(string mode) => new()
    {
        ["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,abortConnect=false,connectTimeout=200",
        ["RedisEdge:Sessions:Failure:Mode"] = mode,
        ["RedisEdge:Sessions:Failure:Timeout"] = "00:00:00.200",
    };

    [Fact]
    public async Task FailClosed_RedisUnreachable_Answers503Problem_NotAnEmptySession()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, Unreachable("FailClosed"));
        var browser = new SessionBrowser { Cookie = RedisSessionIds.Create() };

        using var read = await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
        Assert.Equal("application/problem+json", read.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Session store unavailable", await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var required = await browser.SendAsync(fleet[0], HttpMethod.Get, "/me");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, required.StatusCode);

        // Requests that never touch the session are not affected.
        Assert.Equal("ok", await browser.GetAsync(fleet[0], "/nothing"));
    }

    [Fact]
    public async Task FailClosed_NewSessionCommitFails_Answers503()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, Unreachable("FailClosed"));
        using var write = await new SessionBrowser().SendAsync(fleet[0], HttpMethod.Post, "/set/k/v");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, write.StatusCode);
    }

    [Fact]
    public async Task FailClosed_LifecycleCallsDuringOutage_Answer503()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, Unreachable("FailClosed"));
        var browser = new SessionBrowser { Cookie = RedisSessionIds.Create() };

        foreach (var path in new[] { "/logout", "/revoke-all/alice", "/login/alice", "/regenerate" })
        {
            using var response = await browser.SendAsync(fleet[0], HttpMethod.Post, path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }
    }

    [Fact]
    public async Task FailOpen_ReadsContinueWithAnEmptySession_WritesStill503()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, Unreachable("FailOpen"));
        var browser = new SessionBrowser { Cookie = RedisSessionIds.Create() };

        Assert.Equal("(null)", await browser.GetAsync(fleet[0], "/get/k"));
        using var write = await browser.SendAsync(fleet[0], HttpMethod.Post, "/set/k/v");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, write.StatusCode);
    }
}
