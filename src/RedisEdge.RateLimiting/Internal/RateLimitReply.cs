using StackExchange.Redis;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// What one <c>rate_limit.lua</c> call answered for the one request, or the batch of identical coalesced requests, it
/// decided: how many were admitted, then per policy how many it accepts and its state after what it committed.
/// </summary>
internal sealed class RateLimitReply
{
    private const int ValuesPerPolicy = 5;

    private readonly long[] _values;

    private RateLimitReply(long admitted, long[] values, long decidedAtMs)
    {
        Admitted = admitted;
        _values = values;
        DecidedAtMs = decidedAtMs;
    }

    /// <summary>How many of the call's requests were admitted, counted from the first.</summary>
    public long Admitted { get; }

    /// <summary>The Redis server time of the decision, in whole ms: the window a refund must find.</summary>
    public long DecidedAtMs { get; }

    public static RateLimitReply Parse(RedisResult[] reply, int policies)
    {
        var values = new long[policies * ValuesPerPolicy];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (long)reply[1 + i];
        }

        return new RateLimitReply((long)reply[0], values, (long)reply[^1]);
    }

    /// <summary>
    /// Fills <paramref name="decisions"/> with what the call decided for its request at <paramref name="position"/>
    /// (1-based, in the order the batch was sent); returns whether that request may proceed.
    /// </summary>
    /// <remarks>
    /// A policy that accepts <c>x</c> of the batch committed <c>q = min(x, admitted)</c>; the request at position
    /// <c>j &lt;= q</c> is reported with what was left after it (<c>r + (q - j) * cost</c>, exact for every algorithm
    /// because costs are whole permits), later ones with the state after the batch. Reset is the state after the batch
    /// for every position: at most one call's worth of permits apart. A request past the admitted prefix is refused
    /// only by the policies that accept no more than the prefix: those that would have admitted it one by one do not
    /// count it as violated (nor as shadow-rejected).
    /// </remarks>
    public bool Apply(List<PolicyDecision> decisions, long position)
    {
        // Past the admitted prefix every request meets the state after the prefix (none of them commits), as each
        // would one by one: a policy accepts it when it accepts one more than the prefix, whatever its position.
        var effective = Math.Min(position, Admitted + 1);
        for (var i = 0; i < decisions.Count; i++)
        {
            var d = decisions[i];
            var b = i * ValuesPerPolicy;
            var accepts = _values[b];
            var committed = Math.Min(accepts, Admitted);
            var remaining = _values[b + 1];
            var accepted = effective <= accepts;
            d.Result = accepted
                ? RedisRateLimitResult.Allowed
                : d.Policy.Shadow ? RedisRateLimitResult.ShadowRejected : RedisRateLimitResult.Rejected;
            d.Remaining = position <= committed ? remaining + ((committed - position) * d.Cost) : remaining;
            d.ResetMs = _values[b + 2];
            d.RetryMs = accepted ? 0 : _values[b + 3];
            d.DelayMs = position <= committed ? _values[b + 4] : 0;
            d.DecidedAtMs = DecidedAtMs;
        }

        return position <= Admitted;
    }
}
