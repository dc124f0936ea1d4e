using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Finds a request's partition value for a policy, and the Redis hash tag it maps to.</summary>
internal static class PartitionResolver
{
    /// <summary>The raw value (for overrides and allow/deny lists), <see langword="null"/> when the request has none.</summary>
    public static string? Resolve(RateLimitPolicy policy, HttpContext context) => policy.Partition switch
    {
        RedisRateLimitPartitionKind.Ip => Ip(context.Connection.RemoteIpAddress),
        RedisRateLimitPartitionKind.User => User(context.User),
        RedisRateLimitPartitionKind.Claim => context.User?.FindFirst(policy.PartitionName!)?.Value,
        RedisRateLimitPartitionKind.Header => Header(context, policy.PartitionName!),
        RedisRateLimitPartitionKind.Route => policy.PartitionName is { Length: > 0 } name
            ? context.GetRouteValue(name)?.ToString()
            : (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.GetEndpoint()?.DisplayName,
        RedisRateLimitPartitionKind.Global => string.Empty,
        RedisRateLimitPartitionKind.Custom => policy.Resolver!(context),
        _ => null,
    };

    /// <summary>
    /// The hash tag of a partition: a SHA-256 of its kind, name and value, so raw client input never reaches a key,
    /// and policies that partition the same way share a slot (one script call on Redis Cluster).
    /// </summary>
    public static string Tag(RateLimitPolicy policy, string? value, bool singleHashSlot)
    {
        if (singleHashSlot)
        {
            return RedisRateLimitingDefaults.KeyFeature;
        }

        var identity = value is null
            ? $"{(int)policy.Partition}:{policy.PartitionName}:\0absent"
            : $"{(int)policy.Partition}:{policy.PartitionName}:{value}";
        return RedisKeyBuilder.Hash(identity);
    }

    private static string? Ip(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }

    private static string? User(ClaimsPrincipal? user)
    {
        if (user?.Identity is not { IsAuthenticated: true } identity)
        {
            return null;
        }

        return identity.Name ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value;
    }

    private static string? Header(HttpContext context, string name)
    {
        var values = context.Request.Headers[name];
        return values.Count == 0 ? null : values.ToString();
    }
}
