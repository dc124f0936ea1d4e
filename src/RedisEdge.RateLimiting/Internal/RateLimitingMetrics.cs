using System.Diagnostics.Metrics;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>The feature's meter, activity source and instruments (one per application, a DI singleton).</summary>
internal sealed class RateLimitingMetrics : IDisposable
{
    public RateLimitingMetrics(IMeterFactory meterFactory)
    {
        Telemetry = new RedisFeatureTelemetry(meterFactory, RedisRateLimitingDefaults.MeterName);
        Decisions = Telemetry.Meter.CreateCounter<long>(
            RedisRateLimitingDefaults.DecisionsInstrument,
            unit: "{request}",
            description: "Rate-limit decisions per policy and result.");
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

    public Counter<long> Decisions { get; }

    public Histogram<double> QueueDelay { get; }

    public Counter<long> Refunds { get; }

    public void Record(string policy, RedisRateLimitResult result)
    {
        if (Decisions.Enabled)
        {
            Decisions.Add(
                1,
                new KeyValuePair<string, object?>(RedisRateLimitingDefaults.PolicyTag, policy),
                new KeyValuePair<string, object?>(RedisRateLimitingDefaults.ResultTag, ResultName(result)));
        }
    }

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
        RedisRateLimitResult.ShadowRejected => "shadow-rejected",
        RedisRateLimitResult.LocalDeny => "local-deny",
        RedisRateLimitResult.Denied => "denied",
        RedisRateLimitResult.FallbackAllowed => "fallback-allowed",
        RedisRateLimitResult.FallbackRejected => "fallback-rejected",
        _ => "redis-error",
    };

    public void Dispose() => Telemetry.Dispose();
}
