using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionTelemetryTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Counters_CreatedLoadedCommittedExpiredDestroyedRevoked()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis);
        var meterFactory = (IMeterFactory)fleet[0].Services.GetService(typeof(IMeterFactory))!;
        var counts = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisSessionDefaults.MeterName && instrument.Meter.Scope == meterFactory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => counts.AddOrUpdate(instrument.Name, value, (_, c) => c + value));
        listener.Start();

        var alice = new SessionBrowser();
        await alice.PostAsync(fleet[0], "/set/k/v");                 // created
        await alice.PostAsync(fleet[0], "/set/k/w");                 // loaded + committed
        await alice.PostAsync(fleet[0], "/logout");                  // destroyed
        var stale = new SessionBrowser { Cookie = RedisEdge.Sessions.Internal.RedisSessionIds.Create() };
        await stale.GetAsync(fleet[0], "/get/k");                    // expired on arrival
        var other = new SessionBrowser();
        await other.PostAsync(fleet[0], "/login/bob");               // created
        await other.PostAsync(fleet[0], "/revoke-all/bob");          // revoked (does not load the caller's session)

        Assert.Equal(2, counts.GetValueOrDefault(RedisSessionDefaults.CreatedInstrument));
        Assert.Equal(1, counts.GetValueOrDefault(RedisSessionDefaults.LoadedInstrument));
        Assert.True(counts.GetValueOrDefault(RedisSessionDefaults.CommittedInstrument) >= 1);
        Assert.Equal(1, counts.GetValueOrDefault(RedisSessionDefaults.ExpiredOnArrivalInstrument));
        Assert.Equal(1, counts.GetValueOrDefault(RedisSessionDefaults.DestroyedInstrument));
        Assert.Equal(1, counts.GetValueOrDefault(RedisSessionDefaults.RevokedInstrument));
    }
}
