using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;

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
        Assert.Equal(RedisCircuitTransition.None, _breaker.OnFailure());
        Assert.Equal(RedisCircuitTransition.None, _breaker.OnFailure());

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

        Assert.Equal(RedisCircuitTransition.Opened, _breaker.OnFailure());
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

        Assert.Equal(RedisCircuitTransition.ProbeFailed, _breaker.OnFailure());
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

    [Fact]
    public void Transitions_ReportedOnce_OpenedProbeFailedClosed()
    {
        Assert.Equal(RedisCircuitTransition.None, _breaker.OnFailure());
        Assert.Equal(RedisCircuitTransition.None, _breaker.OnFailure());
        Assert.Equal(RedisCircuitTransition.Opened, _breaker.OnFailure());

        // Calls admitted before the breaker opened may still fail: no second "opened".
        Assert.Equal(RedisCircuitTransition.None, _breaker.OnFailure());

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());
        Assert.Equal(RedisCircuitTransition.ProbeFailed, _breaker.OnFailure());

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());
        Assert.True(_breaker.OnSuccess());
        Assert.False(_breaker.OnSuccess());
    }

    [Fact]
    public void RetryAfter_IsTimeUntilTheNextProbe_AtLeastOneSecond()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), _breaker.RetryAfter);

        Open();
        Assert.Equal(TimeSpan.FromSeconds(5), _breaker.RetryAfter);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(2), _breaker.RetryAfter);
        _time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Equal(TimeSpan.FromSeconds(1), _breaker.RetryAfter);
    }

    [Fact]
    public void State_FollowsLifecycle_ClosedOpenHalfOpenClosed()
    {
        Assert.Equal(RedisCircuitState.Closed, _breaker.State);
        Open();
        Assert.Equal(RedisCircuitState.Open, _breaker.State);

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());
        Assert.Equal(RedisCircuitState.HalfOpen, _breaker.State);
        Assert.False(_breaker.TryEnter());
        Assert.Equal(TimeSpan.FromSeconds(5), _breaker.RetryAfter);

        // An abandoned probe hands the breaker back to Open (the next caller probes); a failed one restarts the break.
        _breaker.OnAbandoned();
        Assert.Equal(RedisCircuitState.Open, _breaker.State);
        Assert.True(_breaker.TryEnter());
        Assert.Equal(RedisCircuitTransition.ProbeFailed, _breaker.OnFailure());
        Assert.Equal(RedisCircuitState.Open, _breaker.State);
        Assert.False(_breaker.TryEnter());

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(_breaker.TryEnter());
        Assert.True(_breaker.OnSuccess());
        Assert.Equal(RedisCircuitState.Closed, _breaker.State);
        Assert.True(_breaker.TryEnter());
    }

    [Fact]
    public void Abandoned_WhileClosed_ChangesNothing()
    {
        _breaker.OnFailure();
        _breaker.OnFailure();
        _breaker.OnAbandoned();

        Assert.Equal(RedisCircuitState.Closed, _breaker.State);
        Assert.Equal(RedisCircuitTransition.Opened, _breaker.OnFailure());
    }

    private void Open()
    {
        for (var i = 0; i < 3; i++)
        {
            _breaker.OnFailure();
        }

        Assert.True(_breaker.IsOpen);
    }
}
