using System.Buffers;
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
/// ends, not at a time. A token bucket advertises its capacity over the time the capacity takes to refill
/// (<c>q=PermitLimit</c>, <c>w=PermitLimit/TokensPerPeriod x Window</c>): its sustained rate, and <c>r</c> (at most the
/// capacity) never exceeds <c>q</c>. <c>t</c> is the effective window of <c>r</c>: the time during which no more than
/// <c>r</c> may be used (see rate_limit.lua). For a policy that rejected the request, <c>t</c> is the time until the
/// same request could succeed (what <c>Retry-After</c> is computed from), so <c>Retry-After</c> never points before it.
/// </remarks>
internal static class RateLimitHeaders
{
    private const string ConcurrentRequests = "concurrent-requests";

    /// <summary>The <c>RateLimit-Policy</c> value, or <see langword="null"/> when no advertised policy applies.</summary>
    /// <remarks>One advertised policy with its configured limits (the usual case) costs nothing: its member is kept.</remarks>
    public static string? Policy(List<PolicyDecision> decisions)
    {
        PolicyDecision? only = null;
        var advertised = 0;
        foreach (var d in decisions)
        {
            if (!d.Policy.Shadow)
            {
                only = d;
                advertised++;
            }
        }

        if (advertised <= 1)
        {
            return only is null ? null : Member(only);
        }

        var builder = new FieldBuilder(stackalloc char[256]);
        var first = true;
        foreach (var d in decisions)
        {
            if (!d.Policy.Shadow)
            {
                if (!first)
                {
                    builder.Separate();
                }

                first = false;
                builder.Append(Member(d));
            }
        }

        return builder.ToStringAndDispose();
    }

    /// <summary>
    /// The <c>RateLimit-Policy</c> member of a policy for a limit and algorithm parameter: formatted once per policy
    /// for its configured values (<see cref="RateLimitPolicy.PolicyHeaderMember"/>), per request only for an override.
    /// </summary>
    public static string PolicyMember(RateLimitPolicy policy, long limit, long p1)
    {
        var builder = new FieldBuilder(stackalloc char[128]);
        builder.Append(policy.QuotedName);
        if (policy.Algorithm == RedisRateLimitAlgorithm.Concurrency)
        {
            builder.Append(";q=");
            builder.Append(limit);
            builder.Append(";qu=\"" + ConcurrentRequests + "\"");
        }
        else
        {
            builder.Append(";q=");
            builder.Append(limit);
            builder.Append(";w=");
            builder.Append(policy.WindowSeconds(limit, p1));
        }

        return builder.ToStringAndDispose();
    }

    /// <summary>
    /// The <c>RateLimit</c> value for <paramref name="decisions"/> (on a rejection, the caller passes only the violated
    /// policies), or <see langword="null"/> when none is advertised.
    /// </summary>
    public static string? Current(List<PolicyDecision> decisions)
    {
        var builder = new FieldBuilder(stackalloc char[256]);
        var any = false;
        foreach (var d in decisions)
        {
            if (d.Policy.Shadow)
            {
                continue;
            }

            if (any)
            {
                builder.Separate();
            }

            any = true;
            builder.Append(d.Policy.QuotedName);
            builder.Append(";r=");
            builder.Append(Math.Max(0, d.Remaining));
            if (d.Policy.Algorithm != RedisRateLimitAlgorithm.Concurrency)
            {
                builder.Append(";t=");
                builder.Append(Seconds(ResetMs(d)));
            }
        }

        if (!any)
        {
            builder.Dispose();
            return null;
        }

        return builder.ToStringAndDispose();
    }

    /// <summary>
    /// The <c>t</c> of one policy in milliseconds: for a policy that rejected, the time until the same request could
    /// succeed; when it never could (cost over the limit) or the policy accepted, the time until its quota is restored.
    /// </summary>
    public static long ResetMs(PolicyDecision d) =>
        d.Result is RedisRateLimitResult.Rejected or RedisRateLimitResult.LocalDeny or RedisRateLimitResult.FallbackRejected && d.RetryMs > 0 ? d.RetryMs : d.ResetMs;

    /// <summary>Whole seconds, rounded up, so a client that waits that long is never early.</summary>
    public static long Seconds(long milliseconds) => milliseconds <= 0 ? 0 : (milliseconds + 999) / 1000;

    private static string Member(PolicyDecision d) =>
        d.Limit == d.Policy.Limit && d.P1 == d.Policy.P1 ? d.Policy.PolicyHeaderMember : PolicyMember(d.Policy, d.Limit, d.P1);

    /// <summary>
    /// Composes one field value in a stack buffer (a pooled array past it) and allocates only the final string,
    /// instead of a <see cref="StringBuilder"/> and a string per number.
    /// </summary>
    private ref struct FieldBuilder(Span<char> initial)
    {
        private Span<char> _chars = initial;
        private char[]? _rented;
        private int _length;

        public void Separate() => Append(", ");

        public void Append(string value)
        {
            Ensure(value.Length);
            value.CopyTo(_chars[_length..]);
            _length += value.Length;
        }

        public void Append(long value)
        {
            Ensure(20);
            value.TryFormat(_chars[_length..], out var written, provider: CultureInfo.InvariantCulture);
            _length += written;
        }

        public string ToStringAndDispose()
        {
            var value = new string(_chars[.._length]);
            Dispose();
            return value;
        }

        public void Dispose()
        {
            if (_rented is not null)
            {
                ArrayPool<char>.Shared.Return(_rented);
                _rented = null;
            }
        }

        private void Ensure(int more)
        {
            if (_length + more <= _chars.Length)
            {
                return;
            }

            var larger = ArrayPool<char>.Shared.Rent(Math.Max(_chars.Length * 2, _length + more));
            _chars[.._length].CopyTo(larger);
            if (_rented is not null)
            {
                ArrayPool<char>.Shared.Return(_rented);
            }

            _chars = _rented = larger;
        }
    }
}
