using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>Finds a request's partition for a policy: the value lists and overrides match, and the Redis hash tag.</summary>
internal static class PartitionResolver
{
    /// <summary>
    /// The raw value (for overrides and allow/deny lists, <see langword="null"/> when the request has none) and the
    /// partition its hash tag is made of: its kind and value (<see langword="null"/> for the shared "absent" partition).
    /// </summary>
    public static (string? Value, RedisRateLimitPartitionKind IdentityKind, string? IdentityValue) Resolve(RateLimitPolicy policy, HttpContext context)
    {
        if (policy.Partition == RedisRateLimitPartitionKind.User && User(context.User) is null)
        {
            // Anonymous: counted per client IP, in the same identity (and so the same slot) an Ip policy would use.
            var ip = IpPartition.Value(context.Connection.RemoteIpAddress, policy.IPv4PrefixLength, policy.IPv6PrefixLength);
            return (null, RedisRateLimitPartitionKind.Ip, ip);
        }

        var value = policy.Partition switch
        {
            RedisRateLimitPartitionKind.Ip => IpPartition.Value(context.Connection.RemoteIpAddress, policy.IPv4PrefixLength, policy.IPv6PrefixLength),
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
        if (value is null && policy.FallBackToClientIp)
        {
            // No value (no API key, no claim): counted per client IP like an anonymous User, so one such client cannot
            // exhaust a bucket every other one shares. Lists and overrides match no value, as before.
            return (null, RedisRateLimitPartitionKind.Ip, IpPartition.Value(context.Connection.RemoteIpAddress, policy.IPv4PrefixLength, policy.IPv6PrefixLength));
        }

        return (value, policy.Partition, value);
    }

    /// <summary>
    /// The tag of a partition: a SHA-256 of its kind, name and value (<c>{kind}:{name}:{value}</c>), so raw client input
    /// never reaches a key, and policies that partition the same way share a slot (one script call on Redis Cluster).
    /// It is the key's hash tag, or with <c>SingleHashSlot</c> part of its suffix (see <c>RedisRateLimiter.Key</c>).
    /// The anonymous fallback of a User policy is the Ip partition, with no name.
    /// </summary>
    public static string Tag(RateLimitPolicy policy, RedisRateLimitPartitionKind kind, string? value)
    {
        if (value is null)
        {
            return policy.AbsentTag;
        }

        return policy.Tags.Get(kind, kind == policy.Partition ? policy.PartitionName : null, value);
    }

    /// <summary>The tag of the partition shared by the requests that have no value: computed once per policy.</summary>
    public static string AbsentTag(RedisRateLimitPartitionKind kind, string? name) =>
        RedisKeyBuilder.Hash($"{(int)kind}:{name}:\0absent");

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
