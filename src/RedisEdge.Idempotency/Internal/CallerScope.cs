using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency.Internal;

/// <summary>Names the caller a key belongs to, so one caller's key can never reach another caller's record.</summary>
internal static class CallerScope
{
    /// <summary>The claim type of the subject in a JWT whose claims were not mapped (<c>MapInboundClaims = false</c>).</summary>
    private const string SubjectClaim = "sub";

    /// <summary>The scope, or <see langword="null"/> when the caller is unidentified and the fallback cannot name one.</summary>
    public static string? Resolve(HttpContext context, IdempotencyPolicy policy)
    {
        var identity = policy.Scope switch
        {
            RedisIdempotencyScope.User => Subject(context.User) is { } user ? "user\n" + user : null,
            RedisIdempotencyScope.Header => context.Request.Headers[policy.ScopeHeaderName!] is { Count: 1 } h && !string.IsNullOrEmpty(h[0])
                ? "header\n" + policy.ScopeHeaderName!.ToUpperInvariant() + "\n" + h[0]
                : null,
            _ => policy.ScopeResolver?.Invoke(context) is { Length: > 0 } custom ? "custom\n" + custom : null,
        };
        if (identity is not null)
        {
            return identity;
        }

        return policy.AnonymousFallback switch
        {
            // No address (a server or proxy chain that does not give one) identifies nobody: refusing is the only
            // answer that does not put every such caller in one scope.
            RedisIdempotencyAnonymousFallback.ClientIp => context.Connection.RemoteIpAddress is { } address ? "ip\n" + Ip(address) : null,
            RedisIdempotencyAnonymousFallback.Shared => "anonymous",
            _ => null,
        };
    }

    /// <summary>
    /// The authenticated subject (<c>NameIdentifier</c>, or <c>sub</c>), qualified by who vouches for it: the claim's
    /// issuer, or the identity's authentication type when the claim was issued locally. Never the display name: two
    /// users may share one, and a user may change theirs.
    /// </summary>
    private static string? Subject(ClaimsPrincipal? principal)
    {
        if (principal is null)
        {
            return null;
        }

        foreach (var identity in principal.Identities)
        {
            if (!identity.IsAuthenticated)
            {
                continue;
            }

            var claim = identity.FindFirst(ClaimTypes.NameIdentifier) ?? identity.FindFirst(SubjectClaim);
            if (claim is null || string.IsNullOrEmpty(claim.Value))
            {
                continue;
            }

            var authority = string.IsNullOrEmpty(claim.Issuer) || claim.Issuer == ClaimsIdentity.DefaultIssuer
                ? "type:" + identity.AuthenticationType
                : "iss:" + claim.Issuer;

            // The subject goes last: it is the part an end user may influence, and nothing can follow it.
            return authority.Replace('\n', ' ') + "\n" + claim.Value;
        }

        return null;
    }

    private static string Ip(IPAddress address) => (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
}
