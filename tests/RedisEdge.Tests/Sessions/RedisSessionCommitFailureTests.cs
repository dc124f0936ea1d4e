using System.Net;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// A commit that fails when the endpoint begins its body (Redis out of memory under <c>noeviction</c>: loads still work,
/// writes are refused) must never reach the client as the endpoint's success body, under any status.
/// </summary>
public sealed class RedisSessionCommitFailureTests : PrivateRedisServerTests
{
    [Fact]
    public async Task CommitFailsAsTheBodyBegins_ClientGetsA503Problem_NeverTheEndpointsBody()
    {
        await using var fleet = await SessionTestApp.StartAsync(Server.Configuration, 3, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:Failure:BreakAfterFailures"] = "1000",
        });
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        await FillMemoryAsync();

        // An existing session: loaded, then its commit is refused when the string result starts the response.
        using (var set = await browser.SendAsync(fleet[1], HttpMethod.Post, "/set/k/w"))
        {
            await AssertProblem503Async(set, "ok");
        }

        // A login that echoes its input as JSON: the new session cannot be created, and no cookie names it.
        using (var login = await new SessionBrowser().SendAsync(fleet[2], HttpMethod.Post, "/login-json/z"))
        {
            await AssertProblem503Async(login, "\"user\"");
            Assert.False(login.Headers.Contains("Set-Cookie"));
        }

        // Bytes written straight to the body stream or pipe: held until the commit, which fails, so the same answer.
        foreach (var path in new[] { "/set-then-stream/k/x", "/set-then-pipe/k/y" })
        {
            using var streamed = await browser.SendAsync(fleet[0], HttpMethod.Post, path);
            await AssertProblem503Async(streamed, "ok");
        }

        await AdminServer.ConfigSetAsync("maxmemory", "0");
        Assert.Equal("v", await browser.GetAsync(fleet[1], "/get/k"));
        Assert.Equal("ok", await browser.PostAsync(fleet[2], "/set-then-pipe/k/y"));
        Assert.Equal("y", await browser.GetAsync(fleet[0], "/get/k"));
    }

    private static async Task AssertProblem503Async(HttpResponseMessage response, string endpointBody)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"Expected 503, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(endpointBody, body, StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
    }

    private async Task FillMemoryAsync()
    {
        await Admin.GetDatabase().ExecuteAsync("EVAL", "redis.call('SET', KEYS[1], string.rep('x', 2097152))", 1, "ballast");
        await AdminServer.ConfigSetAsync("maxmemory-policy", "noeviction");
        await AdminServer.ConfigSetAsync("maxmemory", "1mb");
    }
}
