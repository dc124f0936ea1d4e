using Microsoft.Extensions.Options;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>The near cache's own rules: nothing while not live, no add across an invalidation, bounded, fresh only.</summary>
public sealed class NearCacheTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void NotLive_ServesAndAcceptsNothing()
    {
        var near = Create();
        var version = near.Snapshot("k");
        near.TryAdd("k", version, Entry(freshUntil: 10_000), serverNow: 0);
        Assert.False(near.TryGet("k", out _, out _));
        near.Resume();
        near.TryAdd("k", near.Snapshot("k"), Entry(freshUntil: 10_000), serverNow: 0);
        Assert.True(near.TryGet("k", out _, out _));
        near.Suspend();
        Assert.False(near.TryGet("k", out _, out _));
        near.Resume();
        Assert.False(near.TryGet("k", out _, out _));
    }

    [Fact]
    public void InvalidationBetweenReadAndAdd_RefusesTheAdd()
    {
        var near = Create();
        near.Resume();
        var version = near.Snapshot("k");
        near.Invalidate("k");
        near.TryAdd("k", version, Entry(freshUntil: 10_000), serverNow: 0);
        Assert.False(near.TryGet("k", out _, out _));

        var afterReconnect = near.Snapshot("k");
        near.Suspend();
        near.Resume();
        near.TryAdd("k", afterReconnect, Entry(freshUntil: 10_000), serverNow: 0);
        Assert.Equal(0, near.Count);
    }

    [Fact]
    public void EntriesExpireWhenNoLongerFresh_AndTheCacheIsBounded()
    {
        var near = Create(maxEntries: 2);
        near.Resume();
        near.TryAdd("a", near.Snapshot("a"), Entry(freshUntil: 1_000), serverNow: 0);
        _time.Advance(TimeSpan.FromMilliseconds(1_000));
        Assert.False(near.TryGet("a", out _, out _));

        foreach (var key in new[] { "x", "y", "z" })
        {
            near.TryAdd(key, near.Snapshot(key), Entry(freshUntil: 100_000), serverNow: 1_000);
        }

        Assert.Equal(2, near.Count);
        Assert.False(near.TryGet("x", out _, out _));
        Assert.True(near.TryGet("z", out _, out var now));
        Assert.Equal(1_000, now);
    }

    private NearCache Create(int maxEntries = 10) => new(
        Options.Create(new RedisResponseCachingOptions { NearCache = { Enabled = true, MaxEntries = maxEntries } }),
        _time);

    private static CachedEntry Entry(long freshUntil) => new()
    {
        Status = 200,
        Headers = [],
        Body = [1, 2, 3],
        ETag = "\"e\"",
        Created = 0,
        FreshUntil = freshUntil,
        StaleWhileRevalidateUntil = freshUntil,
        StaleIfErrorUntil = freshUntil,
    };
}
