namespace RedisEdge.ResponseCaching;

/// <summary>
/// Caches the responses of a controller, an action or (through <c>CacheResponse</c>) a minimal-API endpoint in Redis
/// for the whole fleet, with the named policy. The most specific declaration wins (action over controller).
/// </summary>
/// <remarks>
/// Named so it collides with neither <c>[ResponseCache]</c> (HTTP cache headers) nor <c>[OutputCache]</c>
/// (the in-process output cache); the three can coexist in one app.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class CacheResponseAttribute : Attribute
{
    /// <summary>Caches with the policy named <paramref name="policyName"/>.</summary>
    /// <remarks>Arguments are checked at start-up, where the error can name the endpoint.</remarks>
    public CacheResponseAttribute(string policyName)
    {
        PolicyName = policyName ?? string.Empty;
    }

    /// <summary>The policy name, as defined under <c>RedisEdge:ResponseCaching:Policies</c> or in code.</summary>
    public string PolicyName { get; }

    /// <summary>
    /// How long an entry is fresh for this endpoint, in seconds, as Output Caching's <c>[OutputCache(Duration = 60)]</c>;
    /// 0 (the default) = the policy's <c>Expire</c>. A negative value fails start-up naming the endpoint.
    /// </summary>
    public int Duration { get; set; }
}
