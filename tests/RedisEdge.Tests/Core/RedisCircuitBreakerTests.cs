using RedisEdge.Internal;

namespace RedisEdge.Tests.Core;

public sealed class RedisCircuitBreakerTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly RedisCircuitBreaker _breaker;

    public RedisCircuitBreakerTests()
    {
        _breaker = new RedisCircuitBreaker(
            new RedisFailurePolicyOptions { BreakAfterFailures = 3, BreakDuration = TimeSpan.FromSeconds(5) },
            _time);
    }

    [Fact]
    public void Failures_BelowThreshold_StayClosed()
    {
        Assert.False(_breaker.OnFailure());
        Assert.False(_breaker.OnFailure());

        Assert.False(_breaker.IsOpen);
        Assert.True(_breaker.TryEnter());
    }

    [Fact]
    public void Success_ResetsConsecutiveFailures()
    {
        _breaker.OnFailure();
        _breaker.OnFailure();
        _breaker.OnSuccess();
        _breaker.OnFailure();
        _breaker.OnFailure();

        Assert.False(_breaker.IsOpen);
    }

    [Fact]
    public void ThresholdReached_OpensAndRefusesUntilBreakDuration()
    {
        _breaker.OnFailure();
        _breaker.OnFailure();

        Assert.True(_breaker.OnFailure());
        Assert.True(_breaker.IsOpen);
        Assert.False(_breaker.TryEnter());

        _time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(_breaker.TryEnter());
    }

    [Fact]
    public void AfterBreakDuration_ExactlyOneProbe_SuccessCloses()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.True(_breaker.TryEnter());
        Assert.False(_breaker.TryEnter());

        _breaker.OnSuccess();
        Assert.False(_breaker.IsOpen);
        Assert.True(_breaker.TryEnter());
        Assert.True(_breaker.TryEnter());
    }

    [Fact]
    public void FailedProbe_ReopensForAnotherBreakDuration()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());

        Assert.False(_breaker.OnFailure());
        Assert.True(_breaker.IsOpen);
        Assert.False(_breaker.TryEnter());
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());
    }

    [Fact]
    public void AbandonedProbe_GivesBackTheProbeSlot()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());

        _breaker.OnAbandoned();

        Assert.True(_breaker.TryEnter());
    }

    private void Open()
    {
        for (var i = 0; i < 3; i++)
        {
            _breaker.OnFailure();
        }

        Assert.True(_breaker.IsOpen);
    }

    private sealed class ManualTimeProvider : TimeProvider
    {
        private long _timestamp = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _timestamp;

        public void Advance(TimeSpan by) => _timestamp += by.Ticks;
    }
}
