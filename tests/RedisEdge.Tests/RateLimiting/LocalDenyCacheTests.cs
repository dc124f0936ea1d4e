using RedisEdge.RateLimiting.Internal;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// The local deny cache at its <c>LocalDenyCacheSize</c> bound: a full cache remembers no new partition, updates the
/// ones it holds, and sweeps expired entries at most once per <see cref="LocalDenyCache.PruneInterval"/>, so a flood of
/// refused partitions costs no full scan per request. Pure in-process state on a manual clock: no Redis involved.
/// </summary>
public sealed class LocalDenyCacheTests
{
    private const int Capacity = 3;
    private const long Generation = 1;

    [Fact]
    public void FullCache_RemembersNoNewPartition_SweepsExpiredOnesAtMostOncePerInterval_AndStillUpdatesHeldOnes()
    {
        var clock = new ManualClock();
        var cache = new LocalDenyCache(clock);
        foreach (var tag in new[] { "a", "b", "c" })
        {
            Add(cache, clock, tag, TimeSpan.FromSeconds(10));
        }

        Assert.Equal(Capacity, cache.Count);
        Add(cache, clock, "d", TimeSpan.FromSeconds(10));
        Assert.False(Denied(cache, "d"));
        Assert.True(Denied(cache, "a"));

        // A held partition is updated even when the cache is full.
        Add(cache, clock, "a", TimeSpan.FromSeconds(30));
        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.True(Denied(cache, "a"));
        Assert.Equal(Capacity, cache.Count);

        // b and c expired: the next new partition sweeps them and is remembered.
        Add(cache, clock, "e", TimeSpan.FromMilliseconds(200));
        Assert.True(Denied(cache, "e"));
        Assert.Equal(2, cache.Count);
        Add(cache, clock, "f", TimeSpan.FromMilliseconds(200));
        Assert.Equal(Capacity, cache.Count);

        // e and f expire 300 ms later, but the last sweep was less than a second ago: no sweep, g is not remembered.
        clock.Advance(TimeSpan.FromMilliseconds(300));
        Add(cache, clock, "g", TimeSpan.FromSeconds(10));
        Assert.False(Denied(cache, "g"));
        Assert.Equal(Capacity, cache.Count);

        // A second after the last sweep, the next new partition sweeps again.
        clock.Advance(TimeSpan.FromMilliseconds(700));
        Add(cache, clock, "g", TimeSpan.FromSeconds(10));
        Assert.True(Denied(cache, "g"));
        Assert.Equal(2, cache.Count);

        cache.Clear();
        Assert.Equal(0, cache.Count);
        Assert.False(Denied(cache, "a"));
    }

    [Fact]
    public void ConcurrentAddsAndExpiries_KeepTheCountExact()
    {
        var clock = new ManualClock();
        var cache = new LocalDenyCache(clock);
        Parallel.For(0, 20_000, i =>
        {
            var tag = "t" + (i % 500).ToString(System.Globalization.CultureInfo.InvariantCulture);
            cache.Add("p", tag, 1, Generation, clock.GetTimestamp(), TimeSpan.FromSeconds(i % 2 == 0 ? 10 : 20), 1_000);
            cache.TryGet("p", tag, 1, Generation, out _);
        });

        Assert.Equal(500, cache.Count);
        clock.Advance(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 500; i++)
        {
            Assert.False(cache.TryGet("p", "t" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, Generation, out _));
        }

        Assert.Equal(0, cache.Count);
    }

    private static void Add(LocalDenyCache cache, ManualClock clock, string tag, TimeSpan retryAfter) =>
        cache.Add("p", tag, 1, Generation, clock.GetTimestamp(), retryAfter, Capacity);

    private static bool Denied(LocalDenyCache cache, string tag) => cache.TryGet("p", tag, 1, Generation, out _);

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = TimeSpan.TicksPerDay;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
