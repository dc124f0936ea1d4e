namespace RedisEdge.ResponseCaching;

/// <summary>
/// Turns RedisEdge response caching off for a controller, action or endpoint, whatever <see cref="CacheResponseAttribute"/>
/// applies at another level.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableResponseCachingAttribute : Attribute
{
}
