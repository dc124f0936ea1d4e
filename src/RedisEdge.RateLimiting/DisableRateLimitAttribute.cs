namespace RedisEdge.RateLimiting;

/// <summary>
/// Turns RedisEdge rate limiting off for a controller, action or endpoint, whatever <see cref="RateLimitAttribute"/>s
/// or global policy would otherwise apply. <c>Microsoft.AspNetCore.RateLimiting</c>'s <c>[DisableRateLimiting]</c>
/// (and <c>.DisableRateLimiting()</c>) has the same effect, so endpoints migrated from the first-party limiter keep it.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableRateLimitAttribute : Attribute
{
}
