using System.Net;
using Microsoft.Extensions.Options;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// <c>MaxValueBytes</c> and <c>MaxSessionBytes</c>: an endpoint that echoes client input into the session cannot be
/// used to make Redis store more than that, from one request or from several at once on different instances.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionLimitTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ValueOverMaxValueBytes_Answers413Problem_NothingStored()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3, new Dictionary<string, string?> { ["RedisEdge:Sessions:MaxValueBytes"] = "16" });
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/a/" + new string('x', 16));

        using (var tooLarge = await browser.SendAsync(fleet[1], HttpMethod.Post, "/set/b/" + new string('x', 17)))
        {
            await AssertTooLargeAsync(tooLarge);
        }

        Assert.Equal(new string('x', 16), await browser.GetAsync(fleet[2], "/get/a"));
        Assert.Equal("(null)", await browser.GetAsync(fleet[0], "/get/b"));

        // A new session is not created by a refused value either.
        var fresh = new SessionBrowser();
        using (var refused = await fresh.SendAsync(fleet[2], HttpMethod.Post, "/set/a/" + new string('x', 17)))
        {
            await AssertTooLargeAsync(refused);
        }

        Assert.Null(fresh.Cookie);
        Assert.Single(await redis.KeysAsync(fleet.KeyPrefix));
    }

    [Fact]
    public async Task SessionOverMaxSessionBytes_Answers413Problem_KeepsWhatFits()
    {
        // Each "/set/kN/<20 x>" stores 24 bytes: the field "d:kN" (4) and the value (20).
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3, new Dictionary<string, string?> { ["RedisEdge:Sessions:MaxSessionBytes"] = "64" });
        var browser = new SessionBrowser();
        var value = new string('x', 20);
        await browser.PostAsync(fleet[0], "/set/k1/" + value);
        await browser.PostAsync(fleet[1], "/set/k2/" + value);

        using (var tooLarge = await browser.SendAsync(fleet[2], HttpMethod.Post, "/set/k3/" + value))
        {
            await AssertTooLargeAsync(tooLarge);
        }

        // Replacing a value counts its new size only, and removing frees room.
        await browser.PostAsync(fleet[2], "/set/k2/" + new string('y', 20));
        await browser.PostAsync(fleet[0], "/remove/k1");
        await browser.PostAsync(fleet[1], "/set/k3/" + value);
        Assert.Equal("(null)", await browser.GetAsync(fleet[2], "/get/k1"));
        Assert.Equal(new string('y', 20), await browser.GetAsync(fleet[0], "/get/k2"));
        Assert.Equal(value, await browser.GetAsync(fleet[1], "/get/k3"));
    }

    [Fact]
    public async Task ConcurrentWritesOnTwoInstances_EachUnderTheLimitAlone_TogetherOver_OneIsRefusedAtCommit()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3, new Dictionary<string, string?> { ["RedisEdge:Sessions:MaxSessionBytes"] = "64" });
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k1/" + new string('x', 20));

        // Each request sees 24 bytes stored and adds 34: 58 alone, 92 together.
        var onB = browser.SendAsync(fleet[1], HttpMethod.Post, "/gated-set/b1/" + new string('b', 30));
        var onC = browser.SendAsync(fleet[2], HttpMethod.Post, "/gated-set/c1/" + new string('c', 30));
        await Gate(fleet[1]).Loaded;
        await Gate(fleet[2]).Loaded;
        Gate(fleet[1]).Release();
        Gate(fleet[2]).Release();
        using var b = await onB;
        using var c = await onC;

        var statuses = new[] { b.StatusCode, c.StatusCode };
        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
        await AssertTooLargeAsync(b.StatusCode == HttpStatusCode.OK ? c : b);
        var stored = new[] { await browser.GetAsync(fleet[0], "/get/b1"), await browser.GetAsync(fleet[0], "/get/c1") };
        Assert.Equal(1, stored.Count(v => v != "(null)"));
    }

    [Fact]
    public async Task InvalidLimits_FailAtStartUp_NamingThePath()
    {
        var negative = await Assert.ThrowsAsync<OptionsValidationException>(() => SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:MaxValueBytes"] = "-1",
            ["RedisEdge:Sessions:MaxSessionBytes"] = "-1",
        }));
        Assert.Contains("RedisEdge:Sessions:MaxValueBytes must be >= 0", negative.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:MaxSessionBytes must be >= 0", negative.Message, StringComparison.Ordinal);

        var inconsistent = await Assert.ThrowsAsync<OptionsValidationException>(() => SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:MaxValueBytes"] = "100",
            ["RedisEdge:Sessions:MaxSessionBytes"] = "50",
        }));
        Assert.Contains("RedisEdge:Sessions:MaxValueBytes must be <= RedisEdge:Sessions:MaxSessionBytes", inconsistent.Message, StringComparison.Ordinal);
    }

    private static async Task AssertTooLargeAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"Expected 413, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("ok", body, StringComparison.Ordinal);
    }

    private static TestGate Gate(RedisFleetInstance instance) => (TestGate)instance.Services.GetService(typeof(TestGate))!;
}
