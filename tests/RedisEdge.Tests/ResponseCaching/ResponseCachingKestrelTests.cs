using System.Net;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Behaviour that depends on the real server: Kestrel ends a stale-while-revalidate response before the refresh.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingKestrelTests(RedisServerFixture redis)
{
    [Fact]
    public async Task StaleWhileRevalidate_TheClientHasTheWholeResponseWhileTheRefreshIsStillRunning()
    {
        await using var app = await KestrelSwrApp.StartAsync(redis);
        using var client = new HttpClient { BaseAddress = app.Address };

        Assert.Equal("1:1", await client.GetStringAsync("/items/1"));
        var key = (await redis.KeysAsync(app.KeyPrefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        app.Hold();

        // The default completion option reads the whole body: this returns only if Kestrel ended the response at
        // CompleteAsync, before the held refresh.
        var stale = await client.GetAsync("/items/1").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Equal("1:1", await stale.Content.ReadAsStringAsync());
        Assert.Contains("stale-while-revalidate", string.Join(",", stale.Headers.GetValues("Cache-Status")), StringComparison.Ordinal);

        // The refresh starts after the response is complete, so the client may be ahead of it: wait until it is held.
        await CacheTestApp.EventuallyAsync(() => app.Renders == 2, "the refresh is running");
        app.Gate.SetResult();
        string body = string.Empty;
        for (var i = 0; i < 200 && body != "1:2"; i++)
        {
            body = await client.GetStringAsync("/items/1");
            await Task.Delay(10);
        }

        Assert.Equal("1:2", body);
        Assert.Equal(2, app.Renders);
    }
}
