using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// Binding and regenerating when the app requires cookie consent and the client has not given it (the session cookie is
/// not essential): the new cookie would be suppressed, so neither may write the user into the id the client holds (a
/// planted one, for instance) nor destroy the session the client keeps.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionConsentTests(RedisServerFixture redis)
{
    private const string Consent = ".AspNet.Consent=yes";

    [Fact]
    public async Task BindWithoutConsent_OnAPlantedLiveSession_NeverWritesTheUserIntoIt()
    {
        await using var fleet = await StartAsync();

        // The attacker got a live anonymous session with consent (through a sibling subdomain, say) and plants its id.
        var attacker = new SessionBrowser { OtherCookies = Consent };
        await attacker.PostAsync(fleet[0], "/set/cart/1");
        var planted = attacker.Cookie!;

        // The victim has not consented and signs in through an endpoint that writes the user, then binds.
        var victim = new SessionBrowser { Cookie = planted };
        await victim.PostAsync(fleet[1], "/bind/alice");

        Assert.Equal(planted, victim.Cookie);
        Assert.Equal("(null)", await attacker.GetAsync(fleet[2], "/get/user"));
        Assert.Equal("1", await attacker.GetAsync(fleet[2], "/get/cart"));
        Assert.Equal(string.Empty, await attacker.GetAsync(fleet[0], "/sessions/alice"));
        Assert.Single(await SessionKeysAsync(fleet));
    }

    [Fact]
    public async Task LoginWithoutConsent_KeepsTheHeldSession_WritesNothingIntoIt_LeavesNoOrphan()
    {
        await using var fleet = await StartAsync();
        var browser = new SessionBrowser { OtherCookies = Consent };
        await browser.PostAsync(fleet[0], "/set/cart/1");
        var held = browser.Cookie;

        // Consent withdrawn; /login regenerates, writes the user, binds.
        browser.OtherCookies = null;
        await browser.PostAsync(fleet[1], "/login/alice");

        Assert.Equal(held, browser.Cookie);
        Assert.Equal("1", await browser.GetAsync(fleet[2], "/get/cart"));
        Assert.Equal("(null)", await browser.GetAsync(fleet[0], "/get/user"));
        Assert.Equal(string.Empty, await browser.GetAsync(fleet[1], "/sessions/alice"));
        Assert.Single(await SessionKeysAsync(fleet));
    }

    [Fact]
    public async Task RegenerateWithoutConsent_DoesNotDestroyTheSessionTheClientKeeps()
    {
        await using var fleet = await StartAsync();
        var browser = new SessionBrowser { OtherCookies = Consent };
        await browser.PostAsync(fleet[0], "/set/cart/1");
        var held = browser.Cookie;

        browser.OtherCookies = null;
        await browser.PostAsync(fleet[1], "/regenerate");

        Assert.Equal(held, browser.Cookie);
        Assert.Equal("1", await browser.GetAsync(fleet[2], "/get/cart"));
        Assert.Single(await SessionKeysAsync(fleet));
    }

    [Fact]
    public async Task LoginWithConsent_StillRegeneratesAndBinds()
    {
        await using var fleet = await StartAsync();
        var browser = new SessionBrowser { OtherCookies = Consent };
        await browser.PostAsync(fleet[0], "/set/cart/1");
        var anonymous = browser.Cookie;

        var handle = await browser.PostAsync(fleet[1], "/login/alice");

        Assert.NotEqual(anonymous, browser.Cookie);
        Assert.Equal("alice", await browser.GetAsync(fleet[2], "/me"));
        Assert.Equal(handle, await browser.GetAsync(fleet[0], "/sessions/alice"));
    }

    private async Task<List<string>> SessionKeysAsync(RedisFleet fleet) =>
        [.. (await redis.KeysAsync(fleet.KeyPrefix)).Where(k => !k.EndsWith(":user", StringComparison.Ordinal))];

    private Task<RedisFleet> StartAsync() => RedisFleet.StartAsync(
        redis,
        3,
        (builder, _) =>
        {
            builder.Services.Configure<CookiePolicyOptions>(o => o.CheckConsentNeeded = _ => true);
            builder.Services.AddSingleton<TestGate>();
            builder.Services.AddRedisEdge().AddSessions();
        },
        (app, _) =>
        {
            app.UseCookiePolicy();
            SessionTestApp.MapEndpoints(app);
        },
        new Dictionary<string, string?> { ["RedisEdge:Sessions:Failure:Timeout"] = "00:00:05" });
}
