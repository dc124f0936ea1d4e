using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>Redis calls per request, counted with the command profiler of the instance that served it.</summary>
public abstract class RedisSessionRoundTripTests(RedisTestServer redis)
{
    private static readonly Dictionary<string, string?> Lazy = new() { ["RedisEdge:Sessions:LoadMode"] = "Lazy" };

    [Fact]
    public async Task Eager_NoId0_Sessionless0_Untouched1_Read1_ReadWrite2()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Empty(await CountAsync(instance, () => new SessionBrowser().GetAsync(instance, "/get/k")));
        Assert.Empty(await CountAsync(instance, async () => Assert.Equal("none", await browser.GetAsync(instance, "/sessionless"))));

        // The price of never blocking: a request that carries the cookie is loaded before its endpoint runs.
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/nothing")));
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/get/k")));
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/get-async/k")));
        Assert.Equal(["EVAL", "EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/set/k/v2")));
        Assert.Equal(["EVAL", "EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/remove/k")));
    }

    [Fact]
    public async Task Lazy_NoId0_Sessionless0_Untouched0_Read1_ReadWrite2()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, Lazy);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Empty(await CountAsync(instance, () => new SessionBrowser().GetAsync(instance, "/get/k")));
        Assert.Empty(await CountAsync(instance, async () => Assert.Equal("none", await browser.GetAsync(instance, "/sessionless"))));
        Assert.Empty(await CountAsync(instance, () => browser.GetAsync(instance, "/nothing")));
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/get/k")));
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/get-async/k")));
        Assert.Equal(["EVAL", "EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/set/k/v2")));
    }

    [Fact]
    public async Task ReadOnlyEndpointNeverCommits()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/readonly-set/k/changed")));
        Assert.Equal("v", await browser.GetAsync(instance, "/get/k"));
    }

    [Fact]
    public async Task NewSession_OneCreate_NoCookieUntilWritten()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        await WarmScriptCacheAsync(new SessionBrowser(), instance);
        var browser = new SessionBrowser();

        Assert.Empty(await CountAsync(instance, () => browser.GetAsync(instance, "/get/k")));
        Assert.Null(browser.Cookie);
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/set/k/v")));
        Assert.NotNull(browser.Cookie);
    }

    [Fact]
    public async Task Login_NewSession_CreatePendingIndexActivate_PlusListAndPeeksUnderALimit()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?> { ["RedisEdge:Sessions:MaxSessionsPerUser"] = "2" });
        var instance = fleet[0];
        await new SessionBrowser().PostAsync(instance, "/login/warm");
        await new SessionBrowser().PostAsync(instance, "/login/warm");

        Assert.Equal(["EVAL", "EVAL", "EVAL", "EVAL"], await CountAsync(instance, () => new SessionBrowser().PostAsync(instance, "/login/alice")));
        Assert.Equal(["EVAL", "EVAL", "EVAL", "EVAL", "EVAL"], await CountAsync(instance, () => new SessionBrowser().PostAsync(instance, "/login/alice")));
    }

    [Fact]
    public async Task Login_NewSession_WithoutALimit_ThreeCalls()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        await new SessionBrowser().PostAsync(instance, "/login/warm");

        Assert.Equal(["EVAL", "EVAL", "EVAL"], await CountAsync(instance, () => new SessionBrowser().PostAsync(instance, "/login/alice")));
    }

    [Fact]
    public async Task SettingTheSameValue_Commits_SinceAConcurrentRequestMayHaveChangedIt()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Equal(["EVAL", "EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/set/k/v")));
    }

    /// <summary>Runs every script the counted requests use once, so SCRIPT LOAD does not show up in the counts.</summary>
    private static async Task WarmScriptCacheAsync(SessionBrowser browser, RedisFleetInstance instance)
    {
        await browser.PostAsync(instance, "/set/k/v");
        await browser.PostAsync(instance, "/set/k/v");
        await browser.PostAsync(instance, "/set/w/1");
        Assert.Equal("v", await browser.GetAsync(instance, "/get/k"));
    }

    private static async Task<IReadOnlyList<string>> CountAsync(RedisFleetInstance instance, Func<Task> request)
    {
        using var scope = instance.Commands.Begin();
        await request();
        return scope.Commands;
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionRoundTripTestsOnSingleNode(RedisServerFixture redis) : RedisSessionRoundTripTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RedisSessionRoundTripTestsOnCluster(RedisClusterFixture redis) : RedisSessionRoundTripTests(redis);
