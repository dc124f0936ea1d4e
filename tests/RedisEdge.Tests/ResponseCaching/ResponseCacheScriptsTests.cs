using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>The scripts against Redis, through the store: lease, fencing, pass marker, foreign data.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheScriptsTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Lookup_GivesTheLeaseToExactlyOneCaller_UntilItExpires()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        var (store, keys) = Resolve(fleet[0]);
        var entry = keys.Entry(Policy(fleet[0]), "lease");

        var first = await store.LookupAsync(entry, "a", 300, default);
        var second = await store.LookupAsync(entry, "b", 300, default);
        Assert.Equal((LookupState.Miss, true), (first.State, first.Filler));
        Assert.Equal((LookupState.Miss, false), (second.State, second.Filler));

        // An empty owner (HEAD) never takes a lease, even a free one.
        var head = await store.LookupAsync(keys.Entry(Policy(fleet[0]), "head"), string.Empty, 300, default);
        Assert.False(head.Filler);

        // The lease is in the entry key itself and expires with it: a dead filler blocks nobody beyond its lease.
        var pttl = await redis.Database.KeyTimeToLiveAsync(entry);
        Assert.InRange(pttl!.Value.TotalMilliseconds, 1, 300);
    }

    [Fact]
    public async Task Lookup_LeaseOnAStoredEntry_KeepsItsLongerExpiry_AndFillOverAForeignEntryKey_IsALostLease()
    {
        var settings = new Dictionary<string, string?>().Policy("items", ("Expire", "00:00:10"), ("StaleWhileRevalidate", "00:01:00"));
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), settings);
        var (store, keys) = Resolve(fleet[0]);
        var policy = Policy(fleet[0]);
        var entry = keys.Entry(policy, "stored-lease");
        var request = new CacheRequestKeys(entry, entry.ToString(), keys.FillKeys(entry, policy, "/stored-lease", null));
        Assert.True((await store.LookupAsync(entry, "first", 30_000, default)).Filler);
        Assert.Equal(FillOutcome.Stored, await store.FillAsync(request, "first", policy, 200, [], "body"u8.ToArray(), "\"e\""));
        await redis.AgeAsync(entry.ToString(), TimeSpan.FromSeconds(11));

        // A 300 ms lease taken on the stale entry must not cut the entry's own expiry (about 70 s) to the lease's.
        var refresh = await store.LookupAsync(entry, "refresher", 300, default);
        Assert.Equal((LookupState.StaleWhileRevalidate, true), (refresh.State, refresh.Filler));
        Assert.InRange((await redis.Database.KeyTimeToLiveAsync(entry))!.Value.TotalSeconds, 30, 70);

        // Foreign data replacing the entry while its lease is held: the fill is refused as a lost lease, not an error.
        await redis.Database.StringSetAsync(entry, "not a hash");
        Assert.Equal(FillOutcome.LeaseLost, await store.FillAsync(request, "refresher", policy, 200, [], "body"u8.ToArray(), "\"e\""));
        Assert.Equal("not a hash", (string?)await redis.Database.StringGetAsync(entry));
    }

    [Fact]
    public async Task Fill_AfterEviction_IsRefused_SoAnOlderResponseNeverLandsAfterIt()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        var (store, keys) = Resolve(fleet[0]);
        var policy = Policy(fleet[0]);
        var entry = keys.Entry(policy, "fenced");
        var request = new CacheRequestKeys(entry, entry.ToString(), keys.FillKeys(entry, policy, "/fenced", ["t"]));

        Assert.True((await store.LookupAsync(entry, "owner", 30_000, default)).Filler);
        await redis.Database.KeyDeleteAsync(entry);
        Assert.Equal(FillOutcome.LeaseLost, await store.FillAsync(request, "owner", policy, 200, [], "body"u8.ToArray(), "\"e\""));
        Assert.False(await redis.Database.KeyExistsAsync(entry));

        // And a fill by someone who never held the lease is refused too.
        Assert.True((await store.LookupAsync(entry, "owner2", 30_000, default)).Filler);
        Assert.Equal(FillOutcome.LeaseLost, await store.FillAsync(request, "intruder", policy, 200, [], "body"u8.ToArray(), "\"e\""));
        Assert.Equal(FillOutcome.Stored, await store.FillAsync(request, "owner2", policy, 200, [], "body"u8.ToArray(), "\"e\""));
        var hit = await store.LookupAsync(entry, "x", 30_000, default);
        Assert.Equal(LookupState.Fresh, hit.State);
        Assert.Equal("body"u8.ToArray(), hit.Entry!.Body);

        Assert.Equal(1, (await store.EvictStepAsync(policy, keys.Tag(policy, "t"), first: true, default)).Deleted);
        Assert.Equal(LookupState.Miss, (await store.LookupAsync(entry, "y", 30_000, default)).State);
    }

    [Fact]
    public async Task Fill_WhoseLeaseWasTakenBeforeAnEvictionOfItsTagOrUrl_IsFenced_AndGivesTheLeaseBack()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        var (store, keys) = Resolve(fleet[0]);
        var policy = Policy(fleet[0]);
        foreach (var name in new[] { "by-tag", "by-url" })
        {
            var entry = keys.Entry(policy, name);
            var request = new CacheRequestKeys(entry, entry.ToString(), keys.FillKeys(entry, policy, "/" + name, ["t-" + name]));
            var evicted = name == "by-tag" ? keys.Tag(policy, "t-" + name) : keys.Resource(policy, "/" + name);
            Assert.True((await store.LookupAsync(entry, "before", 30_000, default)).Filler);

            // Nothing is in the set yet: the eviction deletes nothing, but it is on record.
            Assert.Equal(0, (await store.EvictStepAsync(policy, evicted, first: true, default)).Deleted);
            Assert.Equal(FillOutcome.Fenced, await store.FillAsync(request, "before", policy, 200, [], "old"u8.ToArray(), "\"e\""));

            // The lease was given back: the next lookup takes it, and its fill (after the eviction) is stored.
            Assert.True((await store.LookupAsync(entry, "after", 30_000, default)).Filler);
            Assert.Equal(FillOutcome.Stored, await store.FillAsync(request, "after", policy, 200, [], "new"u8.ToArray(), "\"e\""));
            Assert.Equal("new"u8.ToArray(), (await store.LookupAsync(entry, "x", 30_000, default)).Entry!.Body);
        }
    }

    [Fact]
    public async Task Abandon_WithPass_SendsLookupsToTheOriginWithoutALease()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        var (store, keys) = Resolve(fleet[0]);
        var entry = keys.Entry(Policy(fleet[0]), "pass");
        Assert.True((await store.LookupAsync(entry, "a", 30_000, default)).Filler);
        await store.AbandonAsync(entry, "a", 60_000);

        var next = await store.LookupAsync(entry, "b", 30_000, default);
        Assert.Equal((LookupState.Pass, false), (next.State, next.Filler));

        // Abandoning without a pass frees the lease for the next caller.
        var other = keys.Entry(Policy(fleet[0]), "no-pass");
        Assert.True((await store.LookupAsync(other, "a", 30_000, default)).Filler);
        await store.AbandonAsync(other, "a", 0);
        Assert.True((await store.LookupAsync(other, "b", 30_000, default)).Filler);
    }

    [Fact]
    public async Task ForeignDataUnderAnEntryOrTagKey_IsTreatedAsEmpty()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        var (store, keys) = Resolve(fleet[0]);
        var policy = Policy(fleet[0]);
        var entry = keys.Entry(policy, "foreign");
        var tag = keys.Tag(policy, "foreign");
        await redis.Database.StringSetAsync(entry, "not a hash");
        await redis.Database.ListRightPushAsync(tag, "not a zset");

        var lookup = await store.LookupAsync(entry, "a", 30_000, default);
        Assert.Equal((LookupState.Miss, true), (lookup.State, lookup.Filler));
        Assert.Equal(FillOutcome.Stored, await store.FillAsync(new CacheRequestKeys(entry, entry.ToString(), keys.FillKeys(entry, policy, "/foreign", ["foreign"])), "a", policy, 200, [], "b"u8.ToArray(), "\"e\""));
        Assert.Equal(1, (await store.EvictStepAsync(policy, tag, first: true, default)).Deleted);
    }

    [Fact]
    public async Task Telemetry_CountsHitsMissesFillsAndStoredBytes()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        var meter = fleet[0].Services.GetRequiredService<ResponseCachingMetrics>().Telemetry.Meter;
        using var hits = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.HitsInstrument);
        using var misses = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.MissesInstrument);
        using var fills = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.FillsInstrument);
        using var bytes = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.StoredBytesInstrument);
        using var evictions = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.EvictionsInstrument);

        await fleet[0].Client.GetAsync("/items/1");
        await fleet[0].Client.GetAsync("/items/1");
        await fleet[0].Cache().EvictByTagAsync("item:1");

        Assert.Single(hits.Measurements);
        Assert.Equal("items", Assert.Single(misses.Measurements).Tags[RedisResponseCachingDefaults.PolicyTag]);
        Assert.Equal("stored", Assert.Single(fills.Measurements).Tags[RedisResponseCachingDefaults.OutcomeTag]);
        Assert.Equal("id=1;render=1;user=anonymous".Length, Assert.Single(bytes.Measurements).Value);
        Assert.Equal(1, Assert.Single(evictions.Measurements).Value);
    }

    [Fact]
    public async Task Trim_KeepsMaxEntries_DeletingTheFirstToExpire_AndTheirSetMemberships_EvenOverForeignData()
    {
        var settings = new Dictionary<string, string?>().Policy("items", ("MaxEntries", "3"));
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), settings);
        var (store, keys) = Resolve(fleet[0]);
        var policy = Policy(fleet[0]);
        var (index, meta) = keys.Bound(policy);
        await redis.Database.StringSetAsync(index, "foreign");
        await redis.Database.StringSetAsync(meta, "foreign");

        var entries = new List<RedisKey>();
        for (var i = 0; i < 5; i++)
        {
            var entry = keys.Entry(policy, "bound" + i);
            entries.Add(entry);
            var request = new CacheRequestKeys(entry, entry.ToString(), keys.FillKeys(entry, policy, "/r" + i, ["shared"]));
            Assert.True((await store.LookupAsync(entry, "o" + i, 30_000, default)).Filler);
            Assert.Equal(FillOutcome.Stored, await store.FillAsync(request, "o" + i, policy, 200, [], "body"u8.ToArray(), "\"e\""));
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i >= 2, await redis.Database.KeyExistsAsync(entries[i]));
            Assert.Equal(i >= 2, await redis.Database.KeyExistsAsync(keys.Resource(policy, "/r" + i)));
        }

        Assert.Equal(3, await redis.Database.SortedSetLengthAsync(keys.Tag(policy, "shared")));
        Assert.Equal(3, await redis.Database.SortedSetLengthAsync(index));
        Assert.Equal(3 * 4, (long)await redis.Database.HashGetAsync(meta, "#"));

        // Evicting the shared tag deletes the three kept entries; the index forgets them as they are trimmed or expire.
        var step = await store.EvictStepAsync(policy, keys.Tag(policy, "shared"), first: true, default);
        Assert.Equal(3, step.Deleted);
        Assert.Equal(0, step.Left);
    }

    [Fact]
    public async Task EveryKeyOfAPolicy_SharesOneHashTag_SoEachScriptTouchesOneSlot()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        await fleet[0].Client.GetAsync("/items/1?a=1");
        await fleet[0].Client.GetAsync("/items/2");
        var keys = await redis.KeysAsync(fleet.KeyPrefix + ":rc:");
        Assert.Equal(2 + 2 + 3 + 1 + 2, keys.Count); // two entries, two resource sets, three tag sets (items, item:1, item:2), the eviction sequence, the bound's index and its metadata
        var slots = keys.Select(k => k[(k.IndexOf('{', StringComparison.Ordinal) + 1)..k.IndexOf('}', StringComparison.Ordinal)]).Distinct().ToList();
        Assert.Single(slots);
        var server = redis.Server;
        Assert.Single(keys.Select(k => server.Multiplexer.HashSlot(k)).Distinct());
    }

    [Fact]
    public async Task Lookup_OfARequestThatWouldOnlyWait_DoesNotCarryTheStaleBody()
    {
        var settings = new Dictionary<string, string?>().Policy("items", ("Expire", "00:00:10"), ("StaleIfError", "00:01:00"));
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), settings);
        var (store, keys) = Resolve(fleet[0]);
        var policy = Policy(fleet[0]);
        var entry = keys.Entry(policy, "stale-if-error-only");
        var request = new CacheRequestKeys(entry, entry.ToString(), keys.FillKeys(entry, policy, "/sie", null));
        Assert.True((await store.LookupAsync(entry, "first", 30_000, default)).Filler);
        var body = new byte[4096];
        Assert.Equal(FillOutcome.Stored, await store.FillAsync(request, "first", policy, 200, [], body, "\"e\""));
        await redis.AgeAsync(entry.ToString(), TimeSpan.FromSeconds(11));

        // The filler gets the stale copy (it serves it if the origin fails) ...
        var filler = await store.LookupAsync(entry, "a", 30_000, default);
        Assert.Equal((LookupState.StaleIfErrorOnly, true), (filler.State, filler.Filler));
        Assert.Equal(body, filler.Entry!.Body);

        // ... a request that would only wait for that fill does not: no body crosses the wire for it ...
        var waiter = await store.LookupAsync(entry, "b", 30_000, default);
        Assert.Equal((LookupState.StaleIfErrorOnly, false), (waiter.State, waiter.Filler));
        Assert.Null(waiter.Entry);

        // ... and one that forwards without the lease (HEAD, or its wait is over) does, to fall back on.
        var forwarder = await store.LookupAsync(entry, "c", 30_000, forwards: true, default);
        Assert.Equal((LookupState.StaleIfErrorOnly, false), (forwarder.State, forwarder.Filler));
        Assert.Equal(body, forwarder.Entry!.Body);
    }

    private static (ResponseCacheStore Store, ResponseCacheKeys Keys) Resolve(RedisFleetInstance instance) =>
        (instance.Services.GetRequiredService<ResponseCacheStore>(), instance.Services.GetRequiredService<ResponseCacheKeys>());

    private static ResponseCachePolicy Policy(RedisFleetInstance instance) =>
        instance.Services.GetRequiredService<ResponseCachePolicyProvider>().Current.Policies["items"];
}
