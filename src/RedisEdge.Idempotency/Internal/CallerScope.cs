using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency.Internal;

/// <summary>Names the caller a key belongs to, so one caller's key can never reach another caller's record.</summary>
internal static class CallerScope
{
    /// <summary>The scope, or <see langword="null"/> when the caller is unidentified and the fallback is <c>Reject</c>.</summary>
    public static string? Resolve(HttpContext context, IdempotencyPolicy policy)
    {
        var identity = policy.Scope switch
        {
            RedisIdempotencyScope.User => User(context.User) is { } user ? "user\n" + user : null,
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
            RedisIdempotencyAnonymousFallback.ClientIp => "ip\n" + Ip(context.Connection.RemoteIpAddress),
            RedisIdempotencyAnonymousFallback.Shared => "anonymous",
            _ => null,
        };
    }

    private static string? User(ClaimsPrincipal? principal)
    {
        if (principal?.Identity is not { IsAuthenticated: true } identity)
        {
            return null;
        }

        return identity.Name is { Length: > 0 } name ? name : principal.FindFirst(ClaimTypes.NameIdentifier)?.Value;
    }

    private static string Ip(IPAddress? address)
    {
        if (address is null)
        {
            return "none";
        }

        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }
}
