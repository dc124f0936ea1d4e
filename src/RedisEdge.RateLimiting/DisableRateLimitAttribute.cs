namespace RedisEdge.RateLimiting;

/// <summary>
/// Turns RedisEdge rate limiting off for a controller, action or endpoint, whatever <see cref="RateLimitAttribute"/>s
/// or global policy would otherwise apply.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableRateLimitAttribute : Attribute
{
}
