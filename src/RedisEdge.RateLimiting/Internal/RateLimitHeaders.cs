using System.Globalization;
using System.Text;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Formats the <c>RateLimit-Policy</c> and <c>RateLimit</c> fields of draft-ietf-httpapi-ratelimit-headers:
/// structured-field lists (RFC 9651) of policy-name strings with integer parameters.
/// </summary>
internal static class RateLimitHeaders
{
    public static string Policy(IReadOnlyList<PolicyDecision> decisions)
    {
        var builder = new StringBuilder();
        foreach (var d in decisions)
        {
            if (builder.Length > 0)
            {
                builder.Append(", ");
            }

            // Policy names are validated to [A-Za-z0-9_.-], so they never need escaping inside an sf-string.
            builder.Append('"').Append(d.Policy.Name).Append("\";q=").Append(d.Limit.ToString(CultureInfo.InvariantCulture));
            if (d.Policy.WindowSeconds > 0)
            {
                builder.Append(";w=").Append(d.Policy.WindowSeconds.ToString(CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    public static string Current(IReadOnlyList<PolicyDecision> decisions)
    {
        var builder = new StringBuilder();
        foreach (var d in decisions)
        {
            if (builder.Length > 0)
            {
                builder.Append(", ");
            }

            builder.Append('"').Append(d.Policy.Name)
                .Append("\";r=").Append(Math.Max(0, d.Remaining).ToString(CultureInfo.InvariantCulture))
                .Append(";t=").Append(Seconds(d.ResetMs).ToString(CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    /// <summary>Whole seconds, rounded up, so a client that waits that long is never early.</summary>
    public static long Seconds(long milliseconds) => milliseconds <= 0 ? 0 : (milliseconds + 999) / 1000;
}
