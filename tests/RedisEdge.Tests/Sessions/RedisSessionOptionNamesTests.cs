using Microsoft.AspNetCore.Builder;
using RedisEdge.Sessions;

namespace RedisEdge.Tests.Sessions;

/// <summary>RedisEdge's session options carry Microsoft.AspNetCore.Session's names and cookie defaults where the concept is the same.</summary>
public sealed class RedisSessionOptionNamesTests
{
    [Fact]
    public void IdleTimeoutAndCookie_HaveSessionOptionsNamesTypesAndDefaults()
    {
        var firstParty = new SessionOptions();
        var ours = new RedisSessionOptions();

        Assert.Equal(typeof(SessionOptions).GetProperty(nameof(SessionOptions.IdleTimeout))!.PropertyType, typeof(RedisSessionOptions).GetProperty(nameof(RedisSessionOptions.IdleTimeout))!.PropertyType);
        Assert.Equal(firstParty.IdleTimeout, ours.IdleTimeout);
        Assert.IsAssignableFrom(typeof(SessionOptions).GetProperty(nameof(SessionOptions.Cookie))!.PropertyType, ours.Cookie);
        Assert.Equal(firstParty.Cookie.Path, ours.Cookie.Path);
        Assert.Equal(firstParty.Cookie.HttpOnly, ours.Cookie.HttpOnly);
        Assert.Equal(firstParty.Cookie.SameSite, ours.Cookie.SameSite);
        Assert.Equal(firstParty.Cookie.IsEssential, ours.Cookie.IsEssential);

        // The one deliberate difference: Secure whenever the request is HTTPS (the first-party default is None).
        Assert.Equal(Microsoft.AspNetCore.Http.CookieSecurePolicy.None, firstParty.Cookie.SecurePolicy);
        Assert.Equal(Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest, ours.Cookie.SecurePolicy);
    }
}
