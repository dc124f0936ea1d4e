using RedisEdge.Sessions.Internal;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// Under the near cache a request reads the held copy's dictionary without copying it: whatever the request does to
/// its session (set, remove, clear, a commit accepting its changes), the shared dictionary stays as it was, and every
/// value read is the request's own copy.
/// </summary>
public sealed class RedisSessionDataSharingTests
{
    [Fact]
    public void ChangesAndCommits_NeverChangeTheLoadedSharedValues()
    {
        var shared = new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["a"] = [1], ["b"] = [2] };
        var data = new RedisSessionData { CopyOut = true };
        data.Load(shared);

        data.Set("c", [3]);
        data.Remove("a", stored: true);
        data.AcceptChanges();
        Assert.True(data.TryGetValue("c", out var c));
        Assert.Equal([3], c);
        Assert.False(data.TryGetValue("a", out _));

        data.Clear(stored: true);
        data.AcceptChanges();
        Assert.Empty(data.Keys);

        Assert.Equal(["a", "b"], shared.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([1], shared["a"]);
        Assert.Equal([2], shared["b"]);
    }

    [Fact]
    public void AValueRead_IsACopy_AndAReadMakesNoChange()
    {
        var shared = new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["a"] = [1] };
        var data = new RedisSessionData { CopyOut = true };
        data.Load(shared);

        Assert.True(data.TryGetValue("a", out var value));
        value[0] = 42;
        Assert.Equal([1], shared["a"]);
        Assert.True(data.TryGetValue("a", out var again));
        Assert.Equal([1], again);
        Assert.False(data.HasChanges);

        // Accepting no changes keeps reading the shared values (nothing to copy).
        data.AcceptChanges();
        Assert.Same(shared, data.Values);
    }
}
