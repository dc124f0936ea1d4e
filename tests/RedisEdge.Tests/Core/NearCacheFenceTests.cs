using RedisEdge.Internal;

namespace RedisEdge.Tests.Core;

/// <summary>
/// The fence both near caches admit copies through: a copy read after a token was taken is admitted only while the
/// subscription is live and neither an invalidation of its key nor a drop or re-verification of the subscription
/// happened since.
/// </summary>
public sealed class NearCacheFenceTests
{
    [Fact]
    public void Admits_OnlyWhileLive_AndOnlyWhenNothingMovedSinceTheToken()
    {
        var fence = new NearCacheFence();
        var before = fence.Snapshot("a");
        Assert.False(fence.Admits(before, "a")); // not yet verified live

        fence.Resume();
        Assert.False(fence.Admits(before, "a")); // taken before the subscription was verified

        var token = fence.Snapshot("a");
        Assert.True(fence.Admits(token, "a"));

        fence.Invalidate("a");
        Assert.False(fence.Admits(token, "a")); // the key was invalidated during the read
        var after = fence.Snapshot("a");
        Assert.True(fence.Admits(after, "a"));

        fence.Suspend();
        Assert.False(fence.IsLive);
        Assert.False(fence.Admits(after, "a"));
        fence.Resume();
        Assert.False(fence.Admits(after, "a")); // a read that spanned the drop is never admitted
    }

    [Fact]
    public void AnInvalidationOfOneKey_LeavesReadsOfAKeyInAnotherStripeAdmitted()
    {
        var fence = new NearCacheFence();
        fence.Resume();
        var token = fence.Snapshot("a");

        // Some key lands in another of the 1,024 stripes; find one rather than assume the hash.
        var other = Enumerable.Range(0, 10_000).Select(i => "k" + i).First(k =>
        {
            var probe = new NearCacheFence();
            probe.Resume();
            var t = probe.Snapshot("a");
            probe.Invalidate(k);
            return probe.Admits(t, "a");
        });
        fence.Invalidate(other);

        Assert.True(fence.Admits(token, "a"));
    }

    [Fact]
    public void Resume_NotLive_AdmitsNothing()
    {
        var fence = new NearCacheFence();
        fence.Resume(live: false);

        Assert.False(fence.IsLive);
        Assert.False(fence.Admits(fence.Snapshot("a"), "a"));
    }
}
