using System.Diagnostics.Metrics;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The feature's meter, activity source and instruments (one per application, a DI singleton).</summary>
internal sealed class ResponseCachingMetrics : IDisposable
{
    public ResponseCachingMetrics(IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        Telemetry = new RedisFeatureTelemetry(meterFactory, RedisResponseCachingDefaults.MeterName);
        var meter = Telemetry.Meter;
        Requests = new RedisFeatureRequests(
            meter,
            timeProvider,
            RedisResponseCachingDefaults.RequestsInstrument,
            RedisResponseCachingDefaults.RequestDurationInstrument,
            RedisResponseCachingDefaults.PolicyTag,
            RedisResponseCachingDefaults.ResultTag);
        Hits = meter.CreateCounter<long>(RedisResponseCachingDefaults.HitsInstrument, "{response}", "Fresh responses served from Redis.");
        NearCacheHits = meter.CreateCounter<long>(RedisResponseCachingDefaults.NearCacheHitsInstrument, "{response}", "Fresh responses served from the in-process near cache, without a round trip.");
        Misses = meter.CreateCounter<long>(RedisResponseCachingDefaults.MissesInstrument, "{request}", "Requests forwarded to the origin because no fresh or serveable stale entry existed.");
        StaleServed = meter.CreateCounter<long>(RedisResponseCachingDefaults.StaleServedInstrument, "{response}", "Stale responses served, by reason.");
        Fills = meter.CreateCounter<long>(RedisResponseCachingDefaults.FillsInstrument, "{fill}", "Origin executions under a fill lease, by outcome.");
        CoalescedWaits = meter.CreateCounter<long>(RedisResponseCachingDefaults.CoalescedWaitsInstrument, "{request}", "Requests that waited for another request's fill instead of running the origin, by outcome.");
        Evictions = meter.CreateCounter<long>(RedisResponseCachingDefaults.EvictionsInstrument, "{entry}", "Entries deleted by tag or resource eviction.");
        StoredBytes = meter.CreateHistogram<long>(RedisResponseCachingDefaults.StoredBytesInstrument, "By", "Body size of each stored entry.");
        Bypasses = meter.CreateCounter<long>(RedisResponseCachingDefaults.BypassesInstrument, "{request}", "Requests to cached endpoints that skipped the cache, by reason.");
    }

    public RedisFeatureTelemetry Telemetry { get; }

    public RedisFeatureRequests Requests { get; }

    public Counter<long> Hits { get; }

    public Counter<long> NearCacheHits { get; }

    public Counter<long> Misses { get; }

    public Counter<long> StaleServed { get; }

    public Counter<long> Fills { get; }

    public Counter<long> CoalescedWaits { get; }

    public Counter<long> Evictions { get; }

    public Histogram<long> StoredBytes { get; }

    public Counter<long> Bypasses { get; }

    public void Hit(string policy) => Add(Hits, policy);

    public void NearHit(string policy) => Add(NearCacheHits, policy);

    public void Miss(string policy) => Add(Misses, policy);

    public void Stale(string policy, string reason) => Add(StaleServed, policy, RedisResponseCachingDefaults.ReasonTag, SnakeCase(reason));

    public void Fill(string policy, string outcome) => Add(Fills, policy, RedisResponseCachingDefaults.OutcomeTag, outcome);

    public void Coalesced(string policy, string outcome) => Add(CoalescedWaits, policy, RedisResponseCachingDefaults.OutcomeTag, outcome);

    public void Bypass(string policy, string reason) => Add(Bypasses, policy, RedisResponseCachingDefaults.ReasonTag, SnakeCase(reason));

    /// <summary>
    /// Metric tag values are snake_case in every feature; these reasons are also <c>Cache-Status</c> details, which keep
    /// the header's kebab-case. Constant strings in, constant strings out: nothing allocated per request.
    /// </summary>
    private static string SnakeCase(string reason) => reason switch
    {
        "stale-while-revalidate" => "stale_while_revalidate",
        "stale-if-error" => "stale_if_error",
        "no-user-id" => "no_user_id",
        "redis-unavailable" => "redis_unavailable",
        "redis-error" => "redis_error",
        _ => reason,
    };

    public void Evicted(string kind, long entries)
    {
        if (Evictions.Enabled && entries > 0)
        {
            Evictions.Add(entries, new KeyValuePair<string, object?>(RedisResponseCachingDefaults.EvictionKindTag, kind));
        }
    }

    public void Stored(string policy, long bytes)
    {
        if (StoredBytes.Enabled)
        {
            StoredBytes.Record(bytes, new KeyValuePair<string, object?>(RedisResponseCachingDefaults.PolicyTag, policy));
        }
    }

    private static void Add(Counter<long> counter, string policy)
    {
        if (counter.Enabled)
        {
            counter.Add(1, new KeyValuePair<string, object?>(RedisResponseCachingDefaults.PolicyTag, policy));
        }
    }

    private static void Add(Counter<long> counter, string policy, string tag, string value)
    {
        if (counter.Enabled)
        {
            counter.Add(
                1,
                new KeyValuePair<string, object?>(RedisResponseCachingDefaults.PolicyTag, policy),
                new KeyValuePair<string, object?>(tag, value));
        }
    }

    public void Dispose() => Telemetry.Dispose();
}
