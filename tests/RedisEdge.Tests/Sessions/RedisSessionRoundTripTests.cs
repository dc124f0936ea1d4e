using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionRoundTripTests(RedisServerFixture redis)
{
    [Fact]
    public async Task RoundTrips_ZeroUntouched_OneRead_TwoReadWrite()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Empty(await CountAsync(instance, () => browser.GetAsync(instance, "/nothing")));
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/get/k")));
        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.GetAsync(instance, "/get-async/k")));
        Assert.Equal(["EVAL", "EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/set/k/v2")));
        Assert.Equal(["EVAL", "EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/remove/k")));
    }

    [Fact]
    public async Task RoundTrips_ReadOnlyEndpointNeverCommits_SessionlessNeverLoads()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/readonly-set/k/changed")));
        Assert.Equal("v", await browser.GetAsync(instance, "/get/k"));
        Assert.Empty(await CountAsync(instance, async () => Assert.Equal("none", await browser.GetAsync(instance, "/sessionless"))));
    }

    [Fact]
    public async Task RoundTrips_NewSession_OneCreate_NoCookieUntilWritten()
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
    public async Task SettingTheSameValue_DoesNotCommit()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var instance = fleet[0];
        var browser = new SessionBrowser();
        await WarmScriptCacheAsync(browser, instance);

        Assert.Equal(["EVAL"], await CountAsync(instance, () => browser.PostAsync(instance, "/set/k/v")));
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
