using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionExpiryTests(RedisServerFixture redis)
{
    private static readonly Dictionary<string, string?> ShortIdle = new()
    {
        ["RedisEdge:Sessions:IdleTimeout"] = "00:00:02",
        ["RedisEdge:Sessions:AbsoluteLifetime"] = "01:00:00",
    };

    [Fact]
    public async Task IdleTimeout_SlidesOnEveryAccess_EvenWhenNothingChanges()
    {
        // A one-minute idle timeout aged to 5 s: the margins are wide enough that a busy machine cannot let the
        // session expire before the read, and the slide is unmistakable (5 s -> about 60 s).
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:IdleTimeout"] = "00:01:00",
            ["RedisEdge:Sessions:AbsoluteLifetime"] = "01:00:00",
        });
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        var key = SessionTestApp.SessionKey(fleet, browser.Cookie!);
        var ttl = await redis.Database.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value.TotalSeconds, 1, 60);

        // Age the session (as if it had been idle), then read it on another instance: the read slides it back.
        await redis.Database.KeyExpireAsync(key, TimeSpan.FromSeconds(5));
        Assert.Equal("v", await browser.GetAsync(fleet[1], "/get/k"));
        ttl = await redis.Database.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value.TotalSeconds, 30, 60);
    }

    [Fact]
    public async Task IdleTimeout_Elapsed_SessionIsGoneAndReplacedByAFreshOne()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 1, ShortIdle);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        var oldCookie = browser.Cookie!;
        var key = SessionTestApp.SessionKey(fleet, oldCookie);

        await redis.Database.KeyExpireAsync(key, TimeSpan.FromMilliseconds(1));
        await WaitUntilGoneAsync(key);

        Assert.Equal("(null)", await browser.GetAsync(fleet[0], "/get/k"));
        await browser.PostAsync(fleet[0], "/set/k/fresh");
        Assert.NotEqual(oldCookie, browser.Cookie);
        Assert.False(await redis.Database.KeyExistsAsync(key));
    }

    [Fact]
    public async Task AbsoluteLifetime_CapsTheIdleExpiry()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:IdleTimeout"] = "00:20:00",
            ["RedisEdge:Sessions:AbsoluteLifetime"] = "00:00:03",
        });
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        await browser.GetAsync(fleet[0], "/get/k");

        var ttl = await redis.Database.KeyTimeToLiveAsync(SessionTestApp.SessionKey(fleet, browser.Cookie!));
        Assert.InRange(ttl!.Value.TotalMilliseconds, 1, 3000);
    }

    [Fact]
    public async Task AbsoluteLifetime_Over_EndsAnActiveSession_OnReadAndOnWrite()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 2);
        var reader = new SessionBrowser();
        var writer = new SessionBrowser();
        await reader.PostAsync(fleet[0], "/set/k/v");
        await writer.PostAsync(fleet[0], "/set/k/v");
        var readerKey = SessionTestApp.SessionKey(fleet, reader.Cookie!);
        var writerKey = SessionTestApp.SessionKey(fleet, writer.Cookie!);

        // The session is still within its idle timeout, but its absolute deadline (Redis clock) has passed.
        foreach (var key in new[] { readerKey, writerKey })
        {
            await redis.Database.HashSetAsync(key, "m:a", DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds());
        }

        Assert.Equal("(null)", await reader.GetAsync(fleet[1], "/get/k"));
        Assert.False(await redis.Database.KeyExistsAsync(readerKey));
        await writer.PostAsync(fleet[1], "/remove/other");
        Assert.False(await redis.Database.KeyExistsAsync(writerKey));
    }

    private async Task WaitUntilGoneAsync(string key)
    {
        for (var i = 0; i < 200 && await redis.Database.KeyExistsAsync(key); i++)
        {
            await Task.Delay(5);
        }

        Assert.False(await redis.Database.KeyExistsAsync(key));
    }
}
