using System.Net;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

/// <summary>The per-server bookkeeping of the breakers: which breaker guards a slot, and how it follows the topology.</summary>
public sealed class RedisCircuitBreakersTests
{
    private static readonly EndPoint A = new IPEndPoint(IPAddress.Loopback, 7001);
    private static readonly EndPoint B = new IPEndPoint(IPAddress.Loopback, 7002);
    private static readonly EndPoint PromotedA = new IPEndPoint(IPAddress.Loopback, 7004);

    private readonly ManualTimeProvider _time = new();
    private readonly RedisFailurePolicyOptions _policy = new() { BreakAfterFailures = 2, BreakDuration = TimeSpan.FromSeconds(5) };
    private readonly Dictionary<int, EndPoint> _owners = new() { [1] = A, [2] = A, [3] = B };
    private readonly RedisCircuitBreakers _breakers;
    private int _resolutions;

    public RedisCircuitBreakersTests()
    {
        _breakers = new RedisCircuitBreakers(_policy, _time, (slot, _) =>
        {
            _resolutions++;
            return _owners.GetValueOrDefault(slot);
        });
    }

    [Fact]
    public void NoSlot_SingleServer_EveryCallSharesTheDefaultBreaker()
    {
        Assert.Same(_breakers.Default, _breakers.For(-1, "k"));
        Assert.Same(_breakers.Default, _breakers.For(-1, "other"));
        Assert.Null(_breakers.Default.EndPoint);
        Assert.Equal(0, _resolutions);

        Open(_breakers.For(-1, "k"));
        Assert.True(_breakers.AnyOpen);
        Assert.False(_breakers.For(-1, "k").TryEnter());
    }

    [Fact]
    public void SlotsOfOneServer_ShareItsBreaker_OtherServersHaveTheirOwn()
    {
        var a = _breakers.For(1, "k");

        Assert.Same(a, _breakers.For(2, "k"));
        Assert.Equal(A, a.EndPoint);
        Assert.Equal(B, _breakers.For(3, "k").EndPoint);
        Assert.NotSame(a, _breakers.Default);
    }

    [Fact]
    public void OneServerDown_OpensOnlyItsBreaker()
    {
        Open(_breakers.For(1, "k"));

        Assert.True(_breakers.AnyOpen);
        Assert.False(_breakers.For(2, "k").TryEnter());
        Assert.True(_breakers.For(3, "k").TryEnter());
        Assert.False(_breakers.For(3, "k").IsOpen);
        Assert.True(_breakers.Default.TryEnter());
    }

    [Fact]
    public void Slot_ResolvedOnce_ThenReadFromTheMap()
    {
        _breakers.For(1, "k");
        _breakers.For(1, "k");
        _breakers.For(1, "k");

        Assert.Equal(1, _resolutions);
    }

    [Fact]
    public void UnknownOwner_UsesTheDefaultBreaker_AndResolvesAgainLater()
    {
        Assert.Same(_breakers.Default, _breakers.For(9, "k"));

        _owners[9] = B;
        Assert.Equal(B, _breakers.For(9, "k").EndPoint);
        Assert.Equal(2, _resolutions);
    }

    [Fact]
    public void SlotMovedToPromotedReplica_UsesItsClosedBreaker_WhileTheDeadPrimaryStaysOpen()
    {
        var dead = _breakers.For(1, "k");
        _breakers.For(2, "k");
        Open(dead);

        _breakers.Moved(1, PromotedA);

        var promoted = _breakers.For(1, "k");
        Assert.Equal(PromotedA, promoted.EndPoint);
        Assert.True(promoted.TryEnter());
        Assert.True(dead.IsOpen);

        // Slot 2 has not been moved yet: it stays with the dead primary until the client learns of its move too.
        Assert.Same(dead, _breakers.For(2, "k"));
        Assert.Equal(2, _resolutions);
    }

    [Fact]
    public void TopologyChanged_EverySlotResolvesAgain()
    {
        Assert.Equal(A, _breakers.For(1, "k").EndPoint);

        _owners[1] = PromotedA;
        Assert.Equal(A, _breakers.For(1, "k").EndPoint);
        _breakers.TopologyChanged();

        Assert.Equal(PromotedA, _breakers.For(1, "k").EndPoint);
        Assert.Equal(2, _resolutions);
    }

    [Fact]
    public void EndPoint_KeepsItsBreakerAndState_AcrossTopologyChanges()
    {
        var a = _breakers.For(1, "k");
        Open(a);
        _breakers.TopologyChanged();

        Assert.Same(a, _breakers.For(1, "k"));
        Assert.True(_breakers.For(1, "k").IsOpen);
    }

    [Fact]
    public void OpenServer_ProbesAloneAfterBreakDuration_AndItsSuccessClosesOnlyIt()
    {
        var a = _breakers.For(1, "k");
        var b = _breakers.For(3, "k");
        Open(a);
        Open(b);
        Assert.True(a.RetryAfter > TimeSpan.FromSeconds(4));

        _time.Advance(_policy.BreakDuration);
        Assert.True(_breakers.For(2, "k").TryEnter());
        Assert.False(_breakers.For(1, "k").TryEnter());
        Assert.True(a.OnSuccess());

        Assert.False(a.IsOpen);
        Assert.True(b.IsOpen);
        Assert.True(_breakers.AnyOpen);
    }

    private void Open(RedisCircuitBreaker breaker)
    {
        for (var i = 0; i < _policy.BreakAfterFailures; i++)
        {
            breaker.OnFailure();
        }

        Assert.True(breaker.IsOpen);
    }
}
