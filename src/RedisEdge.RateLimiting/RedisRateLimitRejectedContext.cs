using Microsoft.AspNetCore.Http;

namespace RedisEdge.RateLimiting;

/// <summary>Passed to <see cref="RedisRateLimitingOptions.OnRejected"/>.</summary>
public sealed class RedisRateLimitRejectedContext
{
    internal RedisRateLimitRejectedContext(HttpContext httpContext, IReadOnlyList<RedisRateLimitDecision> decisions, TimeSpan? retryAfter)
    {
        HttpContext = httpContext;
        Decisions = decisions;
        RetryAfter = retryAfter;
    }

    /// <summary>The rejected request; status code and headers are already set.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>One entry per policy that applied.</summary>
    public IReadOnlyList<RedisRateLimitDecision> Decisions { get; }

    /// <summary>How long until the request would be accepted (the largest among rejecting policies), when known.</summary>
    public TimeSpan? RetryAfter { get; }
}
