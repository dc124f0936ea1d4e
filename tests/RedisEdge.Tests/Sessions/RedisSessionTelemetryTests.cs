using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Sessions;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionTelemetryTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Counters_CreatedLoadedCommittedExpiredDestroyedRevoked()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        using var counts = new SessionCounters(fleet[0]);

        var alice = new SessionBrowser();
        await alice.PostAsync(fleet[0], "/set/k/v");                 // created
        await alice.PostAsync(fleet[0], "/set/k/w");                 // loaded (eager) + committed
        await alice.PostAsync(fleet[0], "/logout");                  // loaded (eager) + destroyed
        var stale = new SessionBrowser { Cookie = RedisEdge.Sessions.Internal.RedisSessionIds.Create() };
        await stale.GetAsync(fleet[0], "/get/k");                    // expired on arrival
        var other = new SessionBrowser();
        await other.PostAsync(fleet[0], "/login/bob");               // created (bound)
        await other.PostAsync(fleet[0], "/revoke-all/bob");          // loaded (eager) + revoked

        Assert.Equal(2, counts[RedisSessionDefaults.CreatedInstrument]);
        Assert.Equal(3, counts[RedisSessionDefaults.LoadedInstrument]);
        Assert.Equal(3, counts[(RedisSessionDefaults.LoadedInstrument, "eager")]);
        Assert.Equal(1, counts[RedisSessionDefaults.CommittedInstrument]);
        Assert.Equal(1, counts[RedisSessionDefaults.ExpiredOnArrivalInstrument]);
        Assert.Equal(1, counts[RedisSessionDefaults.DestroyedInstrument]);
        Assert.Equal(1, counts[RedisSessionDefaults.RevokedInstrument]);
    }

    /// <summary>The requests counter and duration histogram of the feature shape: one measurement each per session load.</summary>
    [Fact]
    public async Task Requests_OnePerSessionLoad_ByResult_WithADuration()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var meter = fleet[0].Services.GetRequiredService<RedisSessionTelemetry>().Feature.Meter;
        using var requests = new MeasurementRecorder<long>(meter, RedisSessionDefaults.RequestsInstrument);
        using var durations = new MeasurementRecorder<double>(meter, RedisSessionDefaults.RequestDurationInstrument);

        var alice = new SessionBrowser();
        await alice.PostAsync(fleet[0], "/set/k/v");                 // no cookie yet: nothing to load
        await alice.PostAsync(fleet[0], "/set/k/w");                 // loaded
        var stale = new SessionBrowser { Cookie = RedisEdge.Sessions.Internal.RedisSessionIds.Create() };
        await stale.GetAsync(fleet[0], "/get/k");                    // expired on arrival

        string[] expected = ["loaded", "expired_on_arrival"];
        Assert.Equal(expected, requests.Measurements.Select(m => (string)m.Tags[RedisSessionDefaults.ResultTag]!));
        Assert.Equal(expected, durations.Measurements.Select(m => (string)m.Tags[RedisSessionDefaults.ResultTag]!));
        Assert.All(durations.Measurements, m => Assert.True(m.Value >= 0));
    }

    [Fact]
    public async Task LoadPath_Lazy_TellsBlockingFirstTouchFromLoadAsync()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?> { ["RedisEdge:Sessions:LoadMode"] = "Lazy" });
        using var counts = new SessionCounters(fleet[0]);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");

        await browser.GetAsync(fleet[0], "/get/k");
        await browser.GetAsync(fleet[0], "/get-async/k");
        await browser.GetAsync(fleet[0], "/nothing");

        Assert.Equal(1, counts[(RedisSessionDefaults.LoadedInstrument, "blocking")]);
        Assert.Equal(1, counts[(RedisSessionDefaults.LoadedInstrument, "on_demand")]);
        Assert.Equal(0, counts[(RedisSessionDefaults.LoadedInstrument, "eager")]);
    }
}

/// <summary>Sums the session counters of one instance, per instrument and per instrument and load path.</summary>
internal sealed class SessionCounters : IDisposable
{
    private readonly ConcurrentDictionary<string, long> _counts = new();
    private readonly MeterListener _listener = new();

    public SessionCounters(RedisFleetInstance instance)
    {
        var meterFactory = (IMeterFactory)instance.Services.GetService(typeof(IMeterFactory))!;
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisSessionDefaults.MeterName && instrument.Meter.Scope == meterFactory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            _counts.AddOrUpdate(instrument.Name, value, (_, c) => c + value);
            foreach (var tag in tags)
            {
                if (tag.Key == RedisSessionDefaults.LoadPathTag)
                {
                    _counts.AddOrUpdate(instrument.Name + "|" + tag.Value, value, (_, c) => c + value);
                }
            }
        });
        _listener.Start();
    }

    public long this[string instrument] => _counts.GetValueOrDefault(instrument);

    public long this[(string Instrument, string LoadPath) key] => _counts.GetValueOrDefault(key.Instrument + "|" + key.LoadPath);

    public void Dispose() => _listener.Dispose();
}
