using Microsoft.AspNetCore.Http;

namespace RedisEdge.Sessions;

/// <summary>
/// The session cookie (<c>RedisEdge:Sessions:Cookie</c>): a <see cref="CookieBuilder"/> with the same names and the same
/// defaults as <c>SessionOptions.Cookie</c> of <c>Microsoft.AspNetCore.Session</c>, so existing settings carry over,
/// except the name and <see cref="CookieBuilder.SecurePolicy"/> (<c>SameAsRequest</c> here, <c>None</c> there).
/// </summary>
/// <remarks>
/// Recommended in production: <c>Name = "__Host-session"</c> with <c>SecurePolicy = Always</c>, <c>Path = "/"</c> and no
/// <c>Domain</c>: browsers then accept the cookie only over HTTPS from this exact host, so a sibling subdomain
/// cannot plant or overwrite it (session fixation across subdomains). Start-up validation refuses a <c>__Host-</c>
/// cookie configured otherwise. The cookie is always a session cookie: <see cref="CookieBuilder.Expiration"/> and
/// <see cref="CookieBuilder.MaxAge"/> must stay unset; <c>IdleTimeout</c> and <c>AbsoluteLifetime</c> end sessions.
/// </remarks>
public sealed class RedisSessionCookieBuilder : CookieBuilder
{
    /// <summary>Creates the builder with the defaults: <c>.RedisEdge.Session</c>, path <c>/</c>, HttpOnly, SameSite=Lax,
    /// Secure when the request is HTTPS, not essential.</summary>
    public RedisSessionCookieBuilder()
    {
        Name = RedisSessionDefaults.CookieName;
        Path = "/";
        HttpOnly = true;
        SameSite = SameSiteMode.Lax;
        SecurePolicy = CookieSecurePolicy.SameAsRequest;

        // As Microsoft.AspNetCore.Session: without consent (CookiePolicyOptions.CheckConsentNeeded) no session is
        // established. Set it to true when the session carries sign-in state the app cannot work without.
        IsEssential = false;
    }
}
