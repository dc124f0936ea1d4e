using System.Net;
using System.Net.Http.Headers;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>One instance: hits and misses, HTTP validators, safe defaults.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingMiddlewareTests(RedisServerFixture redis)
{
    [Fact]
    public async Task SecondRequest_IsAHitWithTheSameBody_AndCacheStatusSaysSo()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var client = fleet[0].Client;

        var miss = await client.GetAsync("/items/1");
        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal("RedisEdge; fwd=uri-miss; fwd-status=200; stored", miss.CacheStatus());
        var hit = await client.GetAsync("/items/1");
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.StartsWith("RedisEdge; hit; ttl=", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(await miss.BodyAsync(), await hit.BodyAsync());
        Assert.Equal("id=1;render=1;user=anonymous", await hit.BodyAsync());
        Assert.Equal("text/plain; charset=utf-8", hit.Content.Headers.ContentType?.ToString());
        Assert.NotNull(hit.Headers.Age);
        Assert.Equal(miss.Headers.ETag, hit.Headers.ETag);
        Assert.False(hit.Headers.ETag!.IsWeak);
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task DifferentQueryStrings_AreDifferentEntries_ButKeyOrderIsNot()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var client = fleet[0].Client;

        var a = await (await client.GetAsync("/items/1?a=1&b=2")).BodyAsync();
        var b = await (await client.GetAsync("/items/1?b=2&a=1")).BodyAsync();
        var c = await (await client.GetAsync("/items/1?a=1&b=3")).BodyAsync();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(2, origin.Executions);
    }

    [Fact]
    public async Task FillLeaseTimeout_IsHowLongAFillerThatGoesSilentHoldsTheLease()
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, new() { [$"{CacheTestApp.Section}:FillLeaseTimeout"] = "00:00:07" });
        var filling = fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => origin.Started == 1, "the fill started");

        // The lease lives in the entry key, which holds nothing else yet: its time-to-live is the lease's.
        var entry = Assert.Single(await redis.EntryKeysAsync(fleet));
        var ttl = await redis.Database.KeyTimeToLiveAsync(entry);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(7));
        Assert.True(await redis.Database.HashExistsAsync(entry, "l"), "the entry key should hold the fill lease");

        origin.Gate.TrySetResult();
        Assert.Equal(HttpStatusCode.OK, (await filling).StatusCode);
    }

    [Fact]
    public async Task IfNoneMatchWithTheCurrentETag_Returns304WithoutBody_OnHitAndOnFill()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var client = fleet[0].Client;
        var first = await client.GetAsync("/items/1");
        var etag = first.Headers.ETag!;

        using var conditional = new HttpRequestMessage(HttpMethod.Get, "/items/1");
        conditional.Headers.IfNoneMatch.Add(etag);
        var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, notModified.Headers.ETag);

        using var other = new HttpRequestMessage(HttpMethod.Get, "/items/1");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(other)).StatusCode);

        // The response of the request that fills is conditional too: same body, same validator.
        await fleet[0].Cache().EvictByTagAsync("item:1");
        using var onFill = new HttpRequestMessage(HttpMethod.Get, "/items/1");
        onFill.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"x\""));
        var refilled = await client.SendAsync(onFill);
        Assert.Equal(HttpStatusCode.OK, refilled.StatusCode);
        using var matchOnFill = new HttpRequestMessage(HttpMethod.Get, "/items/2");
        var two = await client.GetAsync("/items/2");
        await fleet[0].Cache().EvictByTagAsync("item:2");
        matchOnFill.Headers.IfNoneMatch.Add(two.Headers.ETag!);
        var refill = await client.SendAsync(matchOnFill);

        // A new render is a new body, so its ETag differs and the answer is 200.
        Assert.Equal(HttpStatusCode.OK, refill.StatusCode);
        Assert.NotEqual(two.Headers.ETag, refill.Headers.ETag);
    }

    [Fact]
    public async Task SetCookieResponse_IsNeverStored()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var client = fleet[0].Client;
        for (var i = 0; i < 3; i++)
        {
            var response = await client.GetAsync("/cookie/1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(response.Headers.Contains("Set-Cookie"));
            // The first says why; the pass marker it leaves sends the next ones straight to the origin.
            Assert.Contains(i == 0 ? "detail=not-storable-set-cookie" : "detail=pass", response.CacheStatus(), StringComparison.Ordinal);
        }

        Assert.Equal(3, origin.Executions);
        foreach (var key in await redis.EntryKeysAsync(fleet))
        {
            Assert.False(await redis.Database.HashExistsAsync(key, "s"), $"{key} holds a stored response.");
        }
    }

    [Fact]
    public async Task NoStoreFromTheHandler_IsHonoured()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        await fleet[0].Client.GetAsync("/no-store/1");
        await fleet[0].Client.GetAsync("/no-store/1");
        Assert.Equal(2, origin.Executions);
    }

    [Fact]
    public async Task BodyOverMaximumBodySize_IsStreamedAndNotStored()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>().Policy("items", ("MaximumBodySize", "1024"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings);
        for (var i = 0; i < 2; i++)
        {
            var response = await fleet[0].Client.GetAsync("/big/1");
            Assert.Equal(64 * 1024, (await response.Content.ReadAsByteArrayAsync()).Length);
            Assert.Contains("detail=too-large", response.CacheStatus(), StringComparison.Ordinal);
        }

        Assert.Equal(2, origin.Executions);
    }

    [Fact]
    public async Task DisableResponseCaching_Wins()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        await fleet[0].Client.GetAsync("/disabled/1");
        var second = await fleet[0].Client.GetAsync("/disabled/1");
        Assert.Equal(2, origin.Executions);
        Assert.Equal(string.Empty, second.CacheStatus());
    }

    [Fact]
    public async Task HeadRequest_IsServedFromTheEntryWithoutBody()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var get = await fleet[0].Client.GetAsync("/both/1");
        using var head = new HttpRequestMessage(HttpMethod.Head, "/both/1");
        var response = await fleet[0].Client.SendAsync(head);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("RedisEdge; hit", response.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(get.Content.Headers.ContentLength, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task HeadersSetByEarlierMiddleware_AreNotStoredWithTheEntry()
    {
        var origin = new Origin();
        var calls = 0;
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], beforeCaching: (app, _) => app.Use(next => context =>
        {
            context.Response.Headers["X-Request-Number"] = (++calls).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return next(context);
        }));
        await fleet[0].Client.GetAsync("/items/1");
        var hit = await fleet[0].Client.GetAsync("/items/1");

        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(["2"], hit.Headers.GetValues("X-Request-Number"));
    }
}
