using System.Diagnostics.Metrics;
using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>The sessions Meter/ActivitySource (<see cref="RedisSessionDefaults.MeterName"/>) and its counters.</summary>
internal sealed class RedisSessionTelemetry : IDisposable
{
    public RedisSessionTelemetry(IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        Feature = new RedisFeatureTelemetry(meterFactory, RedisSessionDefaults.MeterName);
        var meter = Feature.Meter;
        Requests = new RedisFeatureRequests(
            meter,
            timeProvider,
            RedisSessionDefaults.RequestsInstrument,
            RedisSessionDefaults.RequestDurationInstrument,
            policyTag: null,
            RedisSessionDefaults.ResultTag);
        Created = meter.CreateCounter<long>(RedisSessionDefaults.CreatedInstrument, "{session}", "Sessions created in Redis.");
        Loaded = meter.CreateCounter<long>(RedisSessionDefaults.LoadedInstrument, "{session}", "Live sessions loaded (and slid) from Redis, by load path (eager, on_demand, blocking).");
        Committed = meter.CreateCounter<long>(RedisSessionDefaults.CommittedInstrument, "{session}", "Commits that wrote changes to a live session.");
        ExpiredOnArrival = meter.CreateCounter<long>(RedisSessionDefaults.ExpiredOnArrivalInstrument, "{session}", "Well-formed session ids that named no live session (expired, destroyed or unknown); replaced by a fresh session.");
        Destroyed = meter.CreateCounter<long>(RedisSessionDefaults.DestroyedInstrument, "{session}", "Sessions destroyed by the application (logout).");
        Revoked = meter.CreateCounter<long>(RedisSessionDefaults.RevokedInstrument, "{session}", "Sessions revoked through their user (revoke-all, single revoke, per-user limit).");
        NearCacheHits = meter.CreateCounter<long>(RedisSessionDefaults.NearCacheHitsInstrument, "{session}", "Session loads served from the in-process near cache, without a Redis call.");
    }

    public RedisFeatureTelemetry Feature { get; }

    /// <summary>One measurement per session load: <c>loaded</c>, <c>expired_on_arrival</c>, <c>fail_open</c> or <c>redis_unavailable</c>.</summary>
    public RedisFeatureRequests Requests { get; }

    public Counter<long> Created { get; }

    public Counter<long> Loaded { get; }

    public Counter<long> Committed { get; }

    public Counter<long> ExpiredOnArrival { get; }

    public Counter<long> Destroyed { get; }

    public Counter<long> Revoked { get; }

    public Counter<long> NearCacheHits { get; }

    /// <summary>
    /// Counts a load with its path: <c>eager</c> (by the middleware, before the endpoint), <c>on_demand</c>
    /// (<c>LoadAsync</c> or a lifecycle call in lazy mode) or <c>blocking</c> (a synchronous first touch in lazy mode,
    /// which held a thread while Redis answered).
    /// </summary>
    public void RecordLoad(string path)
    {
        if (Loaded.Enabled)
        {
            Loaded.Add(1, new KeyValuePair<string, object?>(RedisSessionDefaults.LoadPathTag, path));
        }
    }

    public void Dispose() => Feature.Dispose();
}
