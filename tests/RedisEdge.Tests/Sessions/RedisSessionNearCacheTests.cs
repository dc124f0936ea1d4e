using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Sessions;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// The near cache across three instances over one Redis: read-your-writes through the version the client carries,
/// other writers and logouts seen through pub/sub (and never later than MaxStaleness), sliding at the configured rate,
/// values copied out, and at most 0.05 Redis calls per read at steady state.
/// </summary>
public abstract class RedisSessionNearCacheTests(RedisTestServer redis, ITestOutputHelper output)
{
    private static readonly TimeSpan MaxStaleness = RedisSessionDefaults.NearCacheMaxStaleness;

    public static Dictionary<string, string?> NearSettings() => new()
    {
        ["RedisEdge:Sessions:NearCache:Enabled"] = "true",
    };

    [Fact]
    public async Task WriteOnA_ReadOnB_1000Pairs_NoStaleRead_EvenWhereBHeldAnOlderCopy()
    {
        await using var fleet = await StartAsync(3);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/n/start");
        foreach (var instance in fleet.Instances)
        {
            Assert.Equal("start", await browser.GetAsync(instance, "/get/n"));
        }

        var hitsBefore = fleet.Instances.Sum(i => Near(i).Hits);
        var stale = 0;
        for (var i = 0; i < 1000; i++)
        {
            var writer = fleet[i % 3];
            var reader = fleet[(i + 1) % 3];
            var value = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await browser.PostAsync(writer, $"/set/n/{value}");

            // The reader holds a copy from before this write (it read in an earlier round): the version the client
            // carries makes it go to Redis once, and the second read is served from the copy it then holds.
            stale += await browser.GetAsync(reader, "/get/n") == value ? 0 : 1;
            stale += await browser.GetAsync(reader, "/get/n") == value ? 0 : 1;
        }

        var hits = fleet.Instances.Sum(i => Near(i).Hits) - hitsBefore;
        output.WriteLine($"{redis.Topology}: 1000 write-on-A/read-on-B pairs (2 reads each): {stale} stale reads, {hits} near-cache hits.");
        Assert.Equal(0, stale);
        Assert.True(hits >= 1000, $"Expected the second read of each pair to be a near-cache hit; {hits} hits.");
    }

    [Fact]
    public async Task TheWritersNextRead_IsServedFromTheCopyItsCommitLeft_WhateverTheEchoOfThatCommit()
    {
        await using var fleet = await StartAsync(1);
        var near = Near(fleet[0]);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/n/start");
        Assert.Equal("start", await browser.GetAsync(fleet[0], "/get/n"));

        // Each commit publishes its version, and this instance hears its own message too: sometimes before it stores
        // what it committed (2-6% of rounds here refused that copy before the fence knew versions), sometimes during
        // the next load, sometimes after. A message about a version no newer than the copy's says nothing against it,
        // so in every order the next load is served from memory.
        var hits = near.Hits;
        const int Writes = 200;
        for (var i = 0; i < Writes; i++)
        {
            var value = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await browser.PostAsync(fleet[0], $"/set/n/{value}");
            Assert.Equal(value, await browser.GetAsync(fleet[0], "/get/n"));
        }

        // Two loads per round, both of the copy the previous commit left: the write's own and the read after it.
        var served = near.Hits - hits;
        output.WriteLine($"{redis.Topology}: {served} of {2 * Writes} loads right after this instance's own commit were served from memory.");
        Assert.Equal(2 * Writes, served);
    }

    [Fact]
    public async Task AnotherWritersChange_IsSeenOnTheOtherInstances_WithinMaxStaleness()
    {
        await using var fleet = await StartAsync(3);
        var tab1 = new SessionBrowser();
        await tab1.PostAsync(fleet[0], "/set/cart/1");

        // A second tab of the same browser: same id, and a version it will not learn from tab 1's next write.
        var tab2 = new SessionBrowser { Cookie = tab1.Cookie };
        foreach (var instance in fleet.Instances.Skip(1))
        {
            Assert.Equal("1", await tab2.GetAsync(instance, "/get/cart"));
            Assert.Equal("1", await tab2.GetAsync(instance, "/get/cart"));
        }

        await tab1.PostAsync(fleet[0], "/set/cart/2");
        var delay = await LastStaleAnswerAsync(fleet, tab2.Cookie!, "/get/cart", body => body == "1", "2");
        output.WriteLine($"{redis.Topology}: another writer's change seen on B and C after at most {delay.TotalMilliseconds:F1} ms.");
        Assert.True(delay < MaxStaleness, $"B or C served the old value {delay} after the write returned; MaxStaleness is {MaxStaleness}.");
    }

    [Theory]
    [InlineData("logout")]
    [InlineData("revoke-all")]
    [InlineData("regenerate")]
    [InlineData("evict")]
    public async Task LogoutRevokeAllOrRegenerate_OnA_OldIdIsRefusedOnBAndC_WithinMaxStaleness(string operation)
    {
        var settings = NearSettings();
        settings["RedisEdge:Sessions:MaxSessionsPerUser"] = "1";
        await using var fleet = await StartAsync(3, settings);
        var browser = new SessionBrowser();
        var user = "u" + Guid.NewGuid().ToString("N");
        await browser.PostAsync(fleet[0], $"/login/{user}");
        var oldCookie = browser.Cookie!;
        foreach (var instance in fleet.Instances.Skip(1))
        {
            Assert.Equal(user, await browser.GetAsync(instance, "/get/user"));
            Assert.Equal(user, await browser.GetAsync(instance, "/get/user"));
            Assert.True(Near(instance).Count >= 1);
        }

        var seen = fleet.Instances.Skip(1).Select(i => Near(i).Invalidations).ToArray();
        switch (operation)
        {
            case "logout":
                await browser.PostAsync(fleet[0], "/logout");
                break;
            case "revoke-all":
                await new SessionBrowser().PostAsync(fleet[0], $"/revoke-all/{user}");
                break;
            case "evict":
                // A second login of the user over MaxSessionsPerUser = 1 evicts the first session.
                await new SessionBrowser().PostAsync(fleet[0], $"/login/{user}");
                break;
            default:
                await browser.PostAsync(fleet[0], "/regenerate");
                Assert.NotEqual(oldCookie, browser.Cookie);
                break;
        }

        var returned = Stopwatch.StartNew();
        while (fleet.Instances.Skip(1).Select((i, n) => Near(i).Invalidations > seen[n]).Any(arrived => !arrived) && returned.Elapsed < MaxStaleness)
        {
            await Task.Yield();
        }

        output.WriteLine($"{redis.Topology}: the invalidation had reached B and C {returned.Elapsed.TotalMilliseconds:F1} ms after {operation} returned on A.");
        var delay = await LastStaleAnswerAsync(fleet, oldCookie, "/get/user", body => body == user, "(null)");
        output.WriteLine($"{redis.Topology}: after {operation} on A, the old id was refused on B and C after at most {delay.TotalMilliseconds:F1} ms.");
        Assert.True(delay < MaxStaleness, $"B or C served the old session {delay} after {operation} returned; MaxStaleness is {MaxStaleness}.");
    }

    [Fact]
    public async Task ASessionEndedWithoutAMessage_IsRefusedOnEveryInstance_WithinMaxStaleness()
    {
        await using var fleet = await StartAsync(3);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/1");
        foreach (var instance in fleet.Instances.Skip(1))
        {
            Assert.Equal("1", await browser.GetAsync(instance, "/get/cart"));
            Assert.Equal("1", await browser.GetAsync(instance, "/get/cart"));
        }

        // Deleted behind the scripts' back, as if the invalidation message had been lost: only re-verification ends it.
        Assert.True(await redis.Database.KeyDeleteAsync(SessionTestApp.SessionKey(fleet, browser.Cookie!.Split('.')[0])));
        var delay = await LastStaleAnswerAsync(fleet, browser.Cookie!, "/get/cart", body => body == "1", "(null)");
        output.WriteLine($"{redis.Topology}: a session deleted without a message was refused on B and C after at most {delay.TotalMilliseconds:F1} ms.");
        Assert.True(delay < MaxStaleness, $"B or C served the deleted session {delay} after it was deleted; MaxStaleness is {MaxStaleness}.");
    }

    [Fact]
    public async Task SteadyState_CostsAtMostFiveRedisCallsPerHundredReads_AndValuesAreCopiedOut()
    {
        await using var fleet = await StartAsync(1);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/abc");
        Assert.Equal("abc", await browser.GetAsync(fleet[0], "/get/cart"));

        const int reads = 400;
        IReadOnlyList<string> commands;
        var meter = fleet[0].Services.GetRequiredService<RedisSessionTelemetry>().Feature.Meter;
        using var hits = new MeasurementRecorder<long>(meter, RedisSessionDefaults.NearCacheHitsInstrument);
        using var loads = new MeasurementRecorder<long>(meter, RedisSessionDefaults.RequestsInstrument);
        using (var scope = fleet[0].Commands.Begin())
        {
            for (var i = 0; i < reads; i++)
            {
                Assert.Equal("abc", await browser.GetAsync(fleet[0], "/get/cart"));
            }

            commands = scope.Commands;
        }

        var perRead = (double)commands.Count / reads;
        output.WriteLine($"{redis.Topology}: {commands.Count} Redis commands for {reads} near-cache reads ({perRead:F4} per read).");
        Assert.True(perRead <= 0.05, $"{commands.Count} Redis commands for {reads} reads: {string.Join(",", commands)}");

        // Reads served from memory are counted as near-cache hits; the requests counter counts only loads from Redis.
        Assert.Equal(reads - loads.Measurements.Count, hits.Measurements.Count);
        Assert.True(hits.Measurements.Count >= reads * 0.95);

        // A handler that scribbles over the bytes it read changes neither the session nor the shared copy.
        await browser.PostAsync(fleet[0], "/scribble/cart");
        Assert.Equal("abc", await browser.GetAsync(fleet[0], "/get/cart"));
    }

    [Fact]
    public async Task Sliding_HappensAtTheConfiguredRate_AndAnIdleSessionStillEndsOnTime()
    {
        // Idle 3 s, slid at most every 0.2 x 3 s = 600 ms per instance; copies re-verified every 250 ms.
        var settings = NearSettings();
        settings["RedisEdge:Sessions:IdleTimeout"] = "00:00:03";
        settings["RedisEdge:Sessions:NearCache:SlideFraction"] = "0.2";
        settings["RedisEdge:Sessions:NearCache:MaxStaleness"] = "00:00:00.250";
        await using var fleet = await StartAsync(1, settings);
        var near = Near(fleet[0]);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/1");

        var slidesBefore = near.Slides;
        var watch = Stopwatch.StartNew();
        var reads = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(4.5))
        {
            // Kept alive past its idle timeout only by the slides.
            Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/cart"));
            reads++;
        }

        var slides = near.Slides - slidesBefore;
        var allowed = (long)(watch.Elapsed.TotalMilliseconds / 600) + 1;
        output.WriteLine($"{reads} reads in {watch.Elapsed.TotalSeconds:F1} s: {slides} slides (at most {allowed} allowed).");
        Assert.InRange(slides, 1, allowed);

        // Idle past the timeout: Redis ends the session, and the copy this instance holds is not served.
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.Equal("(null)", await new SessionBrowser { Cookie = browser.Cookie }.GetAsync(fleet[0], "/get/cart"));
    }

    [Fact]
    public async Task AbsoluteLifetime_EndsTheCopyToo_WithoutWaitingForReverification()
    {
        // Copies would go 30 s without re-verification; the absolute lifetime (2 s) must end them first.
        var settings = NearSettings();
        settings["RedisEdge:Sessions:AbsoluteLifetime"] = "00:00:02";
        settings["RedisEdge:Sessions:IdleTimeout"] = "00:05:00";
        settings["RedisEdge:Sessions:NearCache:MaxStaleness"] = "00:00:30";
        await using var fleet = await StartAsync(1, settings);
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/1");
        var key = SessionTestApp.SessionKey(fleet, browser.Cookie!.Split('.')[0]);
        var reader = new SessionBrowser { Cookie = browser.Cookie };

        var watch = Stopwatch.StartNew();
        var servedFromCopy = 0L;
        while (await reader.GetAsync(fleet[0], "/get/cart") == "1")
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), "The copy outlived the session's absolute lifetime.");
            servedFromCopy = Near(fleet[0]).Hits;
        }

        Assert.True(servedFromCopy > 0);
        Assert.False(await redis.Database.KeyExistsAsync(key));
    }

    [Fact]
    public async Task SubscriptionConnectionKilled_EmptiesTheNearCache_UntilTheSubscriptionIsProvenLiveAgain()
    {
        await using var fleet = await StartAsync(1);
        var near = Near(fleet[0]);
        await EventuallyAsync(() => near.IsLive, "the near cache is live");
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/cart/1");
        Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/cart"));
        Assert.Equal(1, near.Count);

        // Only subscription connections (this test's fleet is the only one subscribed while the collection runs it).
        foreach (var server in redis.Admin.GetServers().Where(s => s.IsConnected))
        {
            await server.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");
        }

        await EventuallyAsync(() => near.Count == 0, "the lost subscription emptied the near cache");

        // Every killed connection (one per node on a cluster) reports its failure on the thread pool, in no set order,
        // and each one empties the cache again until a new sentinel comes back: a copy read in a short live spell
        // between two of them may be dropped. So: once live, a read fills the cache and the next is served from it,
        // on the first try unless a late failure intervened (RedisInvalidationSubscriptionTests forces that order).
        var servedFromCopy = false;
        for (var attempt = 0; attempt < 10 && !servedFromCopy; attempt++)
        {
            await EventuallyAsync(() => near.IsLive, "the subscription was proven live again");
            var hits = near.Hits;
            Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/cart"));
            Assert.Equal("1", await browser.GetAsync(fleet[0], "/get/cart"));
            servedFromCopy = near.Hits == hits + 1;
            output.WriteLine($"{redis.Topology}: attempt {attempt + 1} after the kill: served from the copy: {servedFromCopy}.");
        }

        Assert.True(servedFromCopy, "After the subscription was proven live again, no read was served from the copy the one before it stored.");
    }

    [Fact]
    public async Task HeaderTransportAndLazyMode_CarryTheVersion_AndReadFromTheCopy()
    {
        var settings = NearSettings();
        settings["RedisEdge:Sessions:HeaderName"] = "X-Session-Id";
        settings["RedisEdge:Sessions:LoadMode"] = "Lazy";
        await using var fleet = await StartAsync(2, settings);

        async Task<(string Body, string? Id)> SendAsync(RedisFleetInstance instance, HttpMethod method, string path, string id)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("X-Session-Id", id);
            using var response = await instance.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadAsStringAsync(), response.Headers.TryGetValues("X-Session-Id", out var values) ? values.Single() : null);
        }

        var (_, created) = await SendAsync(fleet[0], HttpMethod.Post, "/set/a/1", "new");
        Assert.EndsWith(".0", created, StringComparison.Ordinal);
        Assert.Equal("1", (await SendAsync(fleet[1], HttpMethod.Get, "/get/a", created!)).Body);
        var (_, written) = await SendAsync(fleet[0], HttpMethod.Post, "/set/a/2", created!);
        Assert.EndsWith(".1", written, StringComparison.Ordinal);

        // B holds version 0; the version the client now carries sends it to Redis, synchronously in lazy mode.
        var hits = Near(fleet[1]).Hits;
        Assert.Equal("2", (await SendAsync(fleet[1], HttpMethod.Get, "/get/a", written!)).Body);
        Assert.Equal("2", (await SendAsync(fleet[1], HttpMethod.Get, "/get/a", written!)).Body);
        Assert.Equal(hits + 1, Near(fleet[1]).Hits);
    }

    /// <summary>
    /// Polls B and C (alternately, tightly) with <paramref name="cookie"/> until both answer <paramref name="fresh"/>;
    /// returns how long after the start the last stale answer's request was sent.
    /// </summary>
    private async Task<TimeSpan> LastStaleAnswerAsync(RedisFleet fleet, string cookie, string path, Func<string, bool> isStale, string fresh)
    {
        var watch = Stopwatch.StartNew();
        var lastStale = TimeSpan.Zero;
        var polls = 0;
        var freshOn = new bool[fleet.Count];
        while (freshOn.Skip(1).Any(f => !f))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "The old session was still served after 10 s.");
            for (var i = 1; i < fleet.Count; i++)
            {
                var sent = watch.Elapsed;
                var body = await new SessionBrowser { Cookie = cookie }.GetAsync(fleet[i], path);
                polls++;
                if (isStale(body))
                {
                    lastStale = sent;
                    freshOn[i] = false;
                }
                else
                {
                    Assert.Equal(fresh, body);
                    freshOn[i] = true;
                }
            }
        }

        output.WriteLine($"  {polls} polls; the last stale answer was to a request sent {lastStale.TotalMilliseconds:F1} ms after the change returned; B and C both fresh at {watch.Elapsed.TotalMilliseconds:F1} ms.");
        return lastStale;
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "Timed out waiting until " + what);
    }

    /// <summary>
    /// The fleet, once every instance's near cache is live, as behind a readiness check: until its subscription is
    /// proven, an instance keeps no copies (a loaded machine once took long enough for a test's first reads to miss).
    /// </summary>
    private async Task<RedisFleet> StartAsync(int instances, Dictionary<string, string?>? settings = null)
    {
        var fleet = await SessionTestApp.StartAsync(redis, instances, settings ?? NearSettings());
        try
        {
            foreach (var instance in fleet.Instances)
            {
                var near = Near(instance);
                if (near.Enabled)
                {
                    await EventuallyAsync(() => near.IsLive, "the near cache is live");
                }
            }
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }

        return fleet;
    }

    internal static RedisSessionNearCache Near(RedisFleetInstance instance) => instance.Services.GetRequiredService<RedisSessionNearCache>();
}

[Collection(RedisCollection.Name)]
public sealed class RedisSessionNearCacheTestsOnSingleNode(RedisServerFixture redis, ITestOutputHelper output) : RedisSessionNearCacheTests(redis, output);

[Collection(RedisClusterCollection.Name)]
public sealed class RedisSessionNearCacheTestsOnCluster(RedisClusterFixture redis, ITestOutputHelper output) : RedisSessionNearCacheTests(redis, output);
