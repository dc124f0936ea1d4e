using System.Diagnostics.Metrics;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>The feature's meter, activity source and instruments (one per application, a DI singleton).</summary>
internal sealed class RateLimitingMetrics : IDisposable
{
    public RateLimitingMetrics(IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        Telemetry = new RedisFeatureTelemetry(meterFactory, RedisRateLimitingDefaults.MeterName);
        Requests = new RedisFeatureRequests(
            Telemetry.Meter,
            timeProvider,
            RedisRateLimitingDefaults.RequestsInstrument,
            RedisRateLimitingDefaults.RequestDurationInstrument,
            RedisRateLimitingDefaults.PolicyTag,
            RedisRateLimitingDefaults.ResultTag);
        QueueDelay = Telemetry.Meter.CreateHistogram<double>(
            RedisRateLimitingDefaults.QueueDelayInstrument,
            unit: "s",
            description: "Time requests waited for their GCRA slot.");
        Refunds = Telemetry.Meter.CreateCounter<long>(
            RedisRateLimitingDefaults.RefundsInstrument,
            unit: "{request}",
            description: "Reservations given back because a request spanning cluster slots was rejected or failed in another slot.");
        CoalescedRequests = Telemetry.Meter.CreateHistogram<int>(
            RedisRateLimitingDefaults.CoalescedRequestsInstrument,
            unit: "{request}",
            description: "Requests decided per script call by hot-partition coalescing (1 when the partition was idle).");
    }

    public RedisFeatureTelemetry Telemetry { get; }

    public Histogram<int> CoalescedRequests { get; }

    public RedisFeatureRequests Requests { get; }

    public Histogram<double> QueueDelay { get; }

    public Counter<long> Refunds { get; }

    /// <summary>Counts <paramref name="decision"/>'s policy for its request with <paramref name="result"/>, and how long it took.</summary>
    public void Record(PolicyDecision decision, RedisRateLimitResult result) =>
        Requests.Record(decision.Policy.Name, ResultName(result), decision.Started);

    public void RecordQueueDelay(string policy, TimeSpan delay)
    {
        if (QueueDelay.Enabled)
        {
            QueueDelay.Record(delay.TotalSeconds, new KeyValuePair<string, object?>(RedisRateLimitingDefaults.PolicyTag, policy));
        }
    }

    public void RecordRefund(string policy, string outcome)
    {
        if (Refunds.Enabled)
        {
            Refunds.Add(
                1,
                new KeyValuePair<string, object?>(RedisRateLimitingDefaults.PolicyTag, policy),
                new KeyValuePair<string, object?>(RedisRateLimitingDefaults.OutcomeTag, outcome));
        }
    }

    public void RecordCoalescedCall(int requests)
    {
        if (CoalescedRequests.Enabled)
        {
            CoalescedRequests.Record(requests);
        }
    }

    public static string ResultName(RedisRateLimitResult result) => result switch
    {
        RedisRateLimitResult.Allowed => "allowed",
        RedisRateLimitResult.Rejected => "rejected",
        RedisRateLimitResult.ShadowRejected => "shadow_rejected",
        RedisRateLimitResult.LocalDeny => "local_deny",
        RedisRateLimitResult.Denied => "denied",
        RedisRateLimitResult.FallbackAllowed => "fallback_allowed",
        RedisRateLimitResult.FallbackRejected => "fallback_rejected",
        _ => "redis_error",
    };

    public void Dispose() => Telemetry.Dispose();
}
