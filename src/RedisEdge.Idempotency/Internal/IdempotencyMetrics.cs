using System.Diagnostics.Metrics;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>The feature's meter, activity source and instruments (one per application, a DI singleton).</summary>
internal sealed class IdempotencyMetrics : IDisposable
{
    public IdempotencyMetrics(IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        Telemetry = new RedisFeatureTelemetry(meterFactory, RedisIdempotencyDefaults.MeterName);
        var meter = Telemetry.Meter;
        Requests = new RedisFeatureRequests(
            meter,
            timeProvider,
            RedisIdempotencyDefaults.RequestsInstrument,
            RedisIdempotencyDefaults.RequestDurationInstrument,
            RedisIdempotencyDefaults.PolicyTag,
            RedisIdempotencyDefaults.ResultTag);
        Executions = meter.CreateCounter<long>(RedisIdempotencyDefaults.ExecutionsInstrument, "{request}", "Handler executions under an idempotency key (first requests and lease takeovers).");
        Replays = meter.CreateCounter<long>(RedisIdempotencyDefaults.ReplaysInstrument, "{request}", "Requests answered with a stored response.");
        Conflicts = meter.CreateCounter<long>(RedisIdempotencyDefaults.ConflictsInstrument, "{request}", "Requests refused with 409 because the same key was in flight.");
        Mismatches = meter.CreateCounter<long>(RedisIdempotencyDefaults.MismatchesInstrument, "{request}", "Requests refused with 422 because the key was used for a different request.");
        LeaseTakeovers = meter.CreateCounter<long>(RedisIdempotencyDefaults.LeaseTakeoversInstrument, "{request}", "Claims taken over from an execution whose lease expired.");
        LeaseLost = meter.CreateCounter<long>(RedisIdempotencyDefaults.LeaseLostInstrument, "{request}", "Executions that lost their claim before storing their response.");
        Rejected = meter.CreateCounter<long>(RedisIdempotencyDefaults.RejectedInstrument, "{request}", "Requests refused before any Redis call: missing or malformed key, unidentified caller, request body too large.");
        Releases = meter.CreateCounter<long>(RedisIdempotencyDefaults.ReleasesInstrument, "{request}", "Executions whose response was not stored; the key was released so a retry runs again.");
        OutcomeUnknown = meter.CreateCounter<long>(RedisIdempotencyDefaults.OutcomeUnknownInstrument, "{request}", "Executions whose response could not be stored, marked outcome-unknown (reason marked), and requests answered with the outcome-unknown problem (reason answered).");
        RedisErrors = meter.CreateCounter<long>(RedisIdempotencyDefaults.RedisErrorsInstrument, "{request}", "Requests decided without Redis because it could not answer.");
        StoredBytes = meter.CreateHistogram<long>(RedisIdempotencyDefaults.StoredBytesInstrument, "By", "Size of stored response bodies.");
    }

    public RedisFeatureTelemetry Telemetry { get; }

    public RedisFeatureRequests Requests { get; }

    public Counter<long> Executions { get; }

    public Counter<long> Replays { get; }

    public Counter<long> Conflicts { get; }

    public Counter<long> Mismatches { get; }

    public Counter<long> LeaseTakeovers { get; }

    public Counter<long> LeaseLost { get; }

    public Counter<long> Rejected { get; }

    public Counter<long> Releases { get; }

    public Counter<long> OutcomeUnknown { get; }

    public Counter<long> RedisErrors { get; }

    public Histogram<long> StoredBytes { get; }

    public static void Add(Counter<long> counter, string policy)
    {
        if (counter.Enabled)
        {
            counter.Add(1, new KeyValuePair<string, object?>(RedisIdempotencyDefaults.PolicyTag, policy));
        }
    }

    public static void Add(Counter<long> counter, string policy, string reason)
    {
        if (counter.Enabled)
        {
            counter.Add(
                1,
                new KeyValuePair<string, object?>(RedisIdempotencyDefaults.PolicyTag, policy),
                new KeyValuePair<string, object?>(RedisIdempotencyDefaults.ReasonTag, reason));
        }
    }

    public void RecordStored(string policy, long bytes)
    {
        if (StoredBytes.Enabled)
        {
            StoredBytes.Record(bytes, new KeyValuePair<string, object?>(RedisIdempotencyDefaults.PolicyTag, policy));
        }
    }

    public void Dispose() => Telemetry.Dispose();
}
