using System.Net;
using Microsoft.Extensions.Options;
using RedisEdge.Sessions;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// A lost connection empties the near cache until the subscription is proven live again, so fail-closed still answers
/// 503 for a session it held; and the cache itself stays within its bounds.
/// </summary>
public sealed class RedisSessionNearCacheOutageTests : IAsyncLifetime
{
    private RedisServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await RedisServerProcess.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ConnectionLoss_EmptiesTheNearCache_FailClosedAnswers503_UntilTheSubscriptionIsBack()
    {
        var settings = RedisSessionNearCacheTests.NearSettings();
        // 2 s, not less: the first write below is the fresh app's first Redis call (connection, script load, JIT), and on
        // a loaded CI machine a 500 ms budget 503'd it once. After the kill, commands fail within this budget.
        settings["RedisEdge:Sessions:Failure:Timeout"] = "00:00:02";
        settings["RedisEdge:Sessions:Failure:BreakDuration"] = "00:00:00.200";
        await using var fleet = await SessionTestApp.StartAsync(_server.Configuration, instances: 1, settings);
        var near = RedisSessionNearCacheTests.Near(fleet[0]);
        await EventuallyAsync(() => near.IsLive, "the near cache is live");
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/1");
        Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/cart"));
        Assert.Equal(1, near.Count);

        await _server.KillAsync();
        await EventuallyAsync(() => !near.IsLive, "the near cache suspended itself");
        Assert.Equal(0, near.Count);
        using (var response = await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/cart"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.NotNull(response.Headers.RetryAfter);
        }

        await _server.StartAgainAsync();
        await EventuallyAsync(() => near.IsLive, "the near cache resynchronised");
        Assert.Equal(0, near.Count);

        // The restarted Redis kept nothing: the session is gone, and no copy says otherwise.
        string body = string.Empty;
        for (var i = 0; i < 100 && body != "(null)"; i++)
        {
            using var response = await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/cart");
            body = await response.Content.ReadAsStringAsync();
            await Task.Delay(50);
        }

        Assert.Equal("(null)", body);
    }

    [Fact]
    public void TagOf_IsTheSessionIdsHashTag_AndARepeatedIdGetsTheSameStringWithoutHashingAgain()
    {
        var options = new RedisSessionOptions();
        options.NearCache.Enabled = true;
        var near = new RedisSessionNearCache(Options.Create(options), TimeProvider.System);
        var off = new RedisSessionNearCache(Options.Create(new RedisSessionOptions()), TimeProvider.System);

        var id = "DjBQStPKhZi9_yEWU9asyX_1_PRPHCGASl4B--04-bg";
        var tag = near.TagOf(id);
        Assert.Equal(RedisSessionStore.Tag(id), tag);
        Assert.Same(tag, near.TagOf(id)); // from the memo
        Assert.Equal(RedisSessionStore.Tag("another-id"), near.TagOf("another-id"));

        // Without the near cache no id is kept: each call hashes and makes its own string.
        Assert.Equal(tag, off.TagOf(id));
        Assert.NotSame(off.TagOf(id), off.TagOf(id));
    }

    [Fact]
    public void NearCache_EvictsLeastRecentlyUsed_ByEntriesAndBytes_AndRefusesReadsOverlappedByAnInvalidation()
    {
        var options = new RedisSessionOptions();
        options.NearCache.Enabled = true;
        options.NearCache.MaxEntries = 2;
        options.NearCache.MaxBytes = 100;
        var near = new RedisSessionNearCache(Options.Create(options), TimeProvider.System);
        near.Resume();

        Put(near, "a", 10);
        Put(near, "b", 10);
        Assert.Equal(RedisSessionNearCache.Lookup.Hit, near.Find("a", 0, out _)); // a is now the most recent
        Put(near, "c", 10);
        Assert.Equal(2, near.Count);
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("b", 0, out _));
        Assert.Equal(RedisSessionNearCache.Lookup.Hit, near.Find("a", 0, out _));

        // 60 + 60 bytes exceed MaxBytes: the older one goes; a session larger than MaxBytes is never held.
        Put(near, "d", 60);
        Put(near, "e", 60);
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("d", 0, out _));
        Assert.Equal(RedisSessionNearCache.Lookup.Hit, near.Find("e", 0, out _));
        Put(near, "f", 101);
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("f", 0, out _));

        // A copy below the version the client carries is not served; a read that an invalidation overlapped is not kept.
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("e", 1, out _));
        var token = near.Snapshot("g");
        near.Invalidate("g", 3);
        near.Store("g", token, Record(1, 1), near.Now, 60_000, slid: true);
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("g", 0, out _));

        // An invalidation drops only copies older than its version; a deletion drops any.
        Put(near, "h", 1, version: 5);
        near.OnMessage("h 5");
        Assert.Equal(RedisSessionNearCache.Lookup.Hit, near.Find("h", 0, out _));
        near.OnMessage("h 6");
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("h", 0, out _));
        Put(near, "h", 1, version: 6);
        near.OnMessage("h");
        Assert.Equal(RedisSessionNearCache.Lookup.Miss, near.Find("h", 0, out _));

        near.Suspend();
        Assert.Equal(0, near.Count);
    }

    private static void Put(RedisSessionNearCache near, string tag, int bytes, long version = 0) =>
        near.Store(tag, near.Snapshot(tag), Record(bytes, version), near.Now, 60_000, slid: true);

    private static RedisSessionRecord Record(int bytes, long version) => new()
    {
        Data = new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["k"] = new byte[Math.Max(0, bytes - 1)] },
        Version = version,
    };

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "Timed out waiting until " + what);
    }
}
