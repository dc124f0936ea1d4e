using Microsoft.AspNetCore.Http;

namespace RedisEdge.Sessions;

/// <summary>The session cookie (<c>RedisEdge:Sessions:Cookie</c>).</summary>
public sealed class RedisSessionCookieOptions
{
    /// <summary>Cookie name. Default <c>.RedisEdge.Session</c>.</summary>
    public string Name { get; set; } = RedisSessionDefaults.CookieName;

    /// <summary>Cookie path. Default <c>/</c>.</summary>
    public string Path { get; set; } = "/";

    /// <summary>Cookie domain; <see langword="null"/> (default) = the request host only.</summary>
    public string? Domain { get; set; }

    /// <summary>Whether scripts are denied access to the cookie. Default <see langword="true"/>.</summary>
    public bool HttpOnly { get; set; } = true;

    /// <summary>SameSite mode. Default <see cref="SameSiteMode.Lax"/>.</summary>
    public SameSiteMode SameSite { get; set; } = SameSiteMode.Lax;

    /// <summary>When the cookie is marked Secure. Default <see cref="CookieSecurePolicy.SameAsRequest"/> (Secure on HTTPS).</summary>
    public CookieSecurePolicy SecurePolicy { get; set; } = CookieSecurePolicy.SameAsRequest;
}
