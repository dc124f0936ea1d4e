using System.Globalization;
using System.Text;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Formats the <c>RateLimit-Policy</c> and <c>RateLimit</c> fields of draft-ietf-httpapi-ratelimit-headers:
/// structured-field lists (RFC 9651) of policy-name strings with parameters.
/// </summary>
/// <remarks>
/// Shadow policies are never advertised: a client that obeys them would skew what the shadow policy is measuring.
/// Concurrency policies advertise <c>qu="concurrent-requests"</c> and no window or reset: a slot frees when a request
/// ends, not at a time. A token bucket advertises its sustained rate (<c>TokensPerPeriod</c> per <c>Window</c>), not
/// its burst capacity. For a policy that rejected the request, <c>t</c> is the time until the same request could
/// succeed (what <c>Retry-After</c> is computed from), so <c>Retry-After</c> never points before it.
/// </remarks>
internal static class RateLimitHeaders
{
    private const string ConcurrentRequests = "concurrent-requests";

    /// <summary>The <c>RateLimit-Policy</c> value, or <see langword="null"/> when no advertised policy applies.</summary>
    public static string? Policy(IReadOnlyList<PolicyDecision> decisions)
    {
        StringBuilder? builder = null;
        foreach (var d in decisions)
        {
            if (d.Policy.Shadow)
            {
                continue;
            }

            builder = Member(builder, d);
            if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency)
            {
                builder.Append(";q=").Append(Integer(d.Limit)).Append(";qu=\"").Append(ConcurrentRequests).Append('"');
                continue;
            }

            builder.Append(";q=").Append(Integer(d.Policy.SustainedPerWindow(d.Limit, d.P1)))
                .Append(";w=").Append(Integer(d.Policy.WindowSeconds));
        }

        return builder?.ToString();
    }

    /// <summary>
    /// The <c>RateLimit</c> value for <paramref name="decisions"/> (on a rejection, the caller passes only the violated
    /// policies), or <see langword="null"/> when none is advertised.
    /// </summary>
    public static string? Current(IReadOnlyList<PolicyDecision> decisions)
    {
        StringBuilder? builder = null;
        foreach (var d in decisions)
        {
            if (d.Policy.Shadow)
            {
                continue;
            }

            builder = Member(builder, d);
            builder.Append(";r=").Append(Integer(Math.Max(0, d.Remaining)));
            if (d.Policy.Algorithm != RedisRateLimitAlgorithm.Concurrency)
            {
                builder.Append(";t=").Append(Integer(Seconds(ResetMs(d))));
            }
        }

        return builder?.ToString();
    }

    /// <summary>
    /// The <c>t</c> of one policy in milliseconds: for a policy that rejected, the time until the same request could
    /// succeed; when it never could (cost over the limit) or the policy accepted, the time until its quota is restored.
    /// </summary>
    public static long ResetMs(PolicyDecision d) =>
        d.Result is RedisRateLimitResult.Rejected or RedisRateLimitResult.LocalDeny && d.RetryMs > 0 ? d.RetryMs : d.ResetMs;

    /// <summary>Whole seconds, rounded up, so a client that waits that long is never early.</summary>
    public static long Seconds(long milliseconds) => milliseconds <= 0 ? 0 : (milliseconds + 999) / 1000;

    private static StringBuilder Member(StringBuilder? builder, PolicyDecision d)
    {
        if (builder is null)
        {
            builder = new StringBuilder();
        }
        else
        {
            builder.Append(", ");
        }

        // Policy names are validated to [A-Za-z0-9_.-], so they never need escaping inside an sf-string.
        return builder.Append('"').Append(d.Policy.Name).Append('"');
    }

    private static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);
}
