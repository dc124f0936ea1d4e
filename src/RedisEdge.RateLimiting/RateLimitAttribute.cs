namespace RedisEdge.RateLimiting;

/// <summary>
/// Applies the named rate-limit policy to a controller, an action or (through <c>RequireRateLimit</c>) a minimal-API
/// endpoint. Several may be combined: all are checked in one Redis call and a request is accepted only when all accept.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = true)]
public sealed class RateLimitAttribute : Attribute
{
    /// <summary>Applies the policy named <paramref name="policyName"/>.</summary>
    /// <remarks>Arguments are checked at start-up, where the error can name the endpoint: an undefined policy or a cost
    /// below 1 fails the host's start naming both.</remarks>
    public RateLimitAttribute(string policyName)
    {
        PolicyName = policyName ?? string.Empty;
    }

    /// <summary>The policy name, as defined under <c>RedisEdge:RateLimiting:Policies</c> or in code.</summary>
    public string PolicyName { get; }

    /// <summary>The permits one request takes (its weight). Default 1; must be &gt;= 1.</summary>
    public int Cost { get; set; } = 1;
}
