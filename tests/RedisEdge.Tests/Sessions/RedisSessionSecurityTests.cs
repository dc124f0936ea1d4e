using System.Text.RegularExpressions;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed partial class RedisSessionSecurityTests(RedisServerFixture redis)
{
    public static TheoryData<string> HostileValues() => new()
    {
        "garbage",
        new string('A', 16 * 1024),
        "{tag}:with spaces and braces",
        "ÿ non-ascii ✓",
        RedisSessionIds.Create()[..42] + "!",
        RedisSessionIds.Create(),
    };

    [Theory]
    [MemberData(nameof(HostileValues))]
    public async Task HostileCookie_NeverBecomesAKey_NeverAdopted_Never5xx(string hostile)
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 1, new Dictionary<string, string?> { ["RedisEdge:Sessions:HeaderName"] = "X-Session-Id" });
        var viaCookie = new SessionBrowser { Cookie = hostile };

        using (var read = await viaCookie.SendAsync(fleet[0], HttpMethod.Get, "/get/k"))
        {
            Assert.True((int)read.StatusCode < 500, $"GET answered {(int)read.StatusCode}");
        }

        await viaCookie.PostAsync(fleet[0], "/set/k/v");
        Assert.NotNull(viaCookie.Cookie);
        Assert.NotEqual(hostile, viaCookie.Cookie);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/set/k/v");
        request.Headers.TryAddWithoutValidation("X-Session-Id", hostile);
        using var viaHeader = await fleet[0].Client.SendAsync(request);
        Assert.True((int)viaHeader.StatusCode < 500, $"POST answered {(int)viaHeader.StatusCode}");
        var issued = viaHeader.Headers.GetValues("X-Session-Id").Single();
        Assert.NotEqual(hostile, issued);
        Assert.True(RedisSessionIds.IsWellFormed(issued));
        Assert.False(viaHeader.Headers.Contains("Set-Cookie"));

        var keys = await redis.KeysAsync(fleet.KeyPrefix);
        Assert.Equal(2, keys.Count);
        foreach (var key in keys)
        {
            Assert.Matches(SessionKeyPattern(fleet.KeyPrefix), key);
            Assert.DoesNotContain(hostile, key, StringComparison.Ordinal);
            Assert.DoesNotContain(issued, key, StringComparison.Ordinal);
            Assert.DoesNotContain(viaCookie.Cookie!, key, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task MalformedId_CostsNoRedisCall()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var browser = new SessionBrowser { Cookie = new string('x', 16 * 1024) };
        using var scope = fleet[0].Commands.Begin();
        Assert.Equal("(null)", await browser.GetAsync(fleet[0], "/get/k"));
        Assert.Empty(scope.Commands);
    }

    [Fact]
    public async Task Cookie_IsHttpOnlyLaxAndSecureOnHttps()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var http = new SessionBrowser();
        await http.PostAsync(fleet[0], "/set/k/v");
        Assert.Contains("httponly", http.LastSetCookie!, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", http.LastSetCookie!, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", http.LastSetCookie!.Replace("samesite", string.Empty, StringComparison.OrdinalIgnoreCase), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(43, http.Cookie!.Length);

        using var request = new HttpRequestMessage(HttpMethod.Post, "https://localhost/set/k/v");
        using var response = await fleet[0].Client.SendAsync(request);
        var setCookie = response.Headers.GetValues("Set-Cookie").Single();
        Assert.Contains("; secure", setCookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SessionIdProperty_IsTheHandle_NotTheSecretId()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        var handle = await browser.GetAsync(fleet[0], "/id");
        Assert.NotEqual(browser.Cookie, handle);
        Assert.Equal(RedisEdge.Internal.RedisKeyBuilder.Hash(browser.Cookie!), handle);
    }

    [Fact]
    public void Ids_Are256BitsOfBase64Url_AndDistinct()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => RedisSessionIds.Create()).ToHashSet();
        Assert.Equal(1000, ids.Count);
        Assert.All(ids, id => Assert.True(RedisSessionIds.IsWellFormed(id)));
        Assert.All(ids, id => Assert.Equal(32, Convert.FromBase64String(id.Replace('-', '+').Replace('_', '/') + "=").Length));
    }

    private static Regex SessionKeyPattern(string prefix) =>
        new($"^{Regex.Escape(prefix)}:sessions:\\{{[A-Za-z0-9_-]{{43}}\\}}(:user)?$");
}
