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
        fence.Invalidate(KeyInStripeOf("a", same: false));

        Assert.True(fence.Admits(token, "a"));
    }

    [Fact]
    public void VersionedInvalidations_OfTheSameKey_StillAdmitACopyAtTheirVersionOrNewer()
    {
        var fence = new NearCacheFence();
        fence.Resume();
        var token = fence.Snapshot("s");

        // A commit's local invalidation and its own message echoed back, both at version 5.
        fence.Invalidate("s", 5);
        fence.Invalidate("s", 5);
        Assert.True(fence.Admits(token, "s", 5));
        Assert.True(fence.Admits(token, "s", 6));
        Assert.False(fence.Admits(token, "s", 4)); // older than what was committed since the read began
        Assert.False(fence.Admits(token, "s")); // no version: a response-cache copy is refused by any move

        fence.Invalidate("s", 7); // another writer's newer commit
        Assert.False(fence.Admits(token, "s", 5));
        Assert.True(fence.Admits(token, "s", 7));
    }

    [Fact]
    public void AnUnversionedMove_OrAnotherKeysMoveInTheStripe_EndsTheRun()
    {
        var fence = new NearCacheFence();
        fence.Resume();

        var token = fence.Snapshot("s");
        fence.Invalidate("s", 5);
        fence.Invalidate("s"); // deleted
        fence.Invalidate("s", 5);
        Assert.False(fence.Admits(token, "s", 9)); // the deletion happened after the read began
        Assert.True(fence.Admits(fence.Snapshot("s"), "s", 5));

        var neighbour = KeyInStripeOf("s", same: true);
        var before = fence.Snapshot("s");
        fence.Invalidate(neighbour, 1);
        fence.Invalidate("s", 5);
        Assert.False(fence.Admits(before, "s", 9)); // the neighbour's move is not part of this key's run
        Assert.False(fence.Admits(before, neighbour, 9));

        // A token taken after the neighbour's move has only seen this key's run since.
        var later = Token(fence, neighbour, "s");
        fence.Invalidate("s", 6);
        Assert.True(fence.Admits(later, "s", 6));

        fence.Suspend();
        fence.Resume();
        Assert.False(fence.Admits(later, "s", 6)); // a read that spanned a drop is never admitted, whatever its version
    }

    // A token for `key` taken after `other` (in the same stripe) moved it.
    private static NearCacheFence.Token Token(NearCacheFence fence, string other, string key)
    {
        fence.Invalidate(other, 1);
        return fence.Snapshot(key);
    }

    [Fact]
    public void Resume_NotLive_AdmitsNothing()
    {
        var fence = new NearCacheFence();
        fence.Resume(live: false);

        Assert.False(fence.IsLive);
        Assert.False(fence.Admits(fence.Snapshot("a"), "a"));
    }

    // Another key in the same stripe as `key` (its invalidation refuses reads of `key`), or in another one.
    private static string KeyInStripeOf(string key, bool same) => Enumerable.Range(0, 100_000).Select(i => "k" + i).First(k =>
    {
        var probe = new NearCacheFence();
        probe.Resume();
        var t = probe.Snapshot(key);
        probe.Invalidate(k);
        return k != key && probe.Admits(t, key) != same;
    });
}
