using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>The session cookie behaves like the first-party one: CookieBuilder names, consent, and the __Host- prefix.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionCookieTests(RedisServerFixture redis)
{
    [Fact]
    public async Task HostPrefixedName_IsSecureRootPathWithoutDomain_AndCarriesTheSession()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 2, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:Cookie:Name"] = "__Host-session",
            ["RedisEdge:Sessions:Cookie:SecurePolicy"] = "Always",
        });
        var browser = new SessionBrowser { CookieName = "__Host-session" };

        await browser.PostAsync(fleet[0], "/set/k/v");

        var setCookie = browser.LastSetCookie!;
        Assert.StartsWith("__Host-session=", setCookie, StringComparison.Ordinal);
        Assert.Contains("; path=/;", setCookie + ";", StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; secure", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("domain=", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("v", await browser.GetAsync(fleet[1], "/get/k"));
    }

    [Fact]
    public async Task HostPrefixedName_ConfiguredInconsistently_FailsAtStartUp_NamingEachPath()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:Cookie:Name"] = "__Host-session",
            ["RedisEdge:Sessions:Cookie:Path"] = "/app",
            ["RedisEdge:Sessions:Cookie:Domain"] = "example.com",
            ["RedisEdge:Sessions:Cookie:MaxAge"] = "01:00:00",
        }));

        Assert.Contains("RedisEdge:Sessions:Cookie:SecurePolicy must be Always for a __Host- cookie", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:Cookie:Path must be '/' for a __Host- cookie", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:Cookie:Domain must not be set for a __Host- cookie", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:Cookie:MaxAge must not be set", ex.Message, StringComparison.Ordinal);

        var secure = await Assert.ThrowsAsync<OptionsValidationException>(() => SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:Cookie:Name"] = "__Secure-session",
        }));
        Assert.Contains("RedisEdge:Sessions:Cookie:SecurePolicy must be Always for a __Secure- cookie", secure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CookieBuilderNames_BindFromConfiguration()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:Cookie:Name"] = "sid",
            ["RedisEdge:Sessions:Cookie:Path"] = "/",
            ["RedisEdge:Sessions:Cookie:Domain"] = "example.test",
            ["RedisEdge:Sessions:Cookie:HttpOnly"] = "false",
            ["RedisEdge:Sessions:Cookie:SameSite"] = "Strict",
            ["RedisEdge:Sessions:Cookie:SecurePolicy"] = "Always",
            ["RedisEdge:Sessions:Cookie:IsEssential"] = "true",
        });
        var browser = new SessionBrowser { CookieName = "sid" };

        await browser.PostAsync(fleet[0], "/set/k/v");

        var setCookie = browser.LastSetCookie!;
        Assert.Contains("domain=example.test", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; secure", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("v", await browser.GetAsync(fleet[0], "/get/k"));
    }

    [Fact]
    public async Task NotEssentialByDefault_WithoutConsent_NoSessionIsCreated_WithConsentOrEssential_ItIs()
    {
        await using var fleet = await StartWithConsentRequiredAsync(essential: false);

        // No consent: the endpoint works, but nothing is stored and no cookie is sent (it would be suppressed anyway).
        using (var withoutConsent = await fleet[0].Client.PostAsync("/set/k/v", null))
        {
            Assert.Equal(HttpStatusCode.OK, withoutConsent.StatusCode);
            Assert.False(withoutConsent.Headers.Contains("Set-Cookie"));
        }

        using (var login = await fleet[0].Client.PostAsync("/login/alice", null))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            Assert.False(login.Headers.Contains("Set-Cookie"));
        }

        Assert.Empty(await redis.KeysAsync(fleet.KeyPrefix));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/set/k/v");
        request.Headers.Add("Cookie", ".AspNet.Consent=yes");
        using var withConsent = await fleet[0].Client.SendAsync(request);
        Assert.Contains(withConsent.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".RedisEdge.Session=", StringComparison.Ordinal));

        await using var essentialFleet = await StartWithConsentRequiredAsync(essential: true);
        using var essential = await essentialFleet[0].Client.PostAsync("/set/k/v", null);
        Assert.Contains(essential.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".RedisEdge.Session=", StringComparison.Ordinal));
        Assert.Single(await redis.KeysAsync(essentialFleet.KeyPrefix));
    }

    private Task<RedisFleet> StartWithConsentRequiredAsync(bool essential) => RedisFleet.StartAsync(
        redis,
        1,
        (builder, _) =>
        {
            builder.Services.Configure<CookiePolicyOptions>(o => o.CheckConsentNeeded = _ => true);
            builder.Services.AddSingleton<TestGate>();
            builder.Services.AddRedisEdge().AddSessions(o => o.Cookie.IsEssential = essential);
        },
        (app, _) =>
        {
            app.UseCookiePolicy();
            SessionTestApp.MapEndpoints(app);
        });
}
