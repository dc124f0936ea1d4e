using System.Collections.Concurrent;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The in-memory limiter of <see cref="RedisFailureMode.LocalFallback"/>: while Redis cannot answer, each instance
/// enforces a policy at its share of the limit (<c>PermitLimit / InstanceCount</c>, at least 1) on its own clock, and
/// writes nothing to Redis; the first request Redis answers again drops it all.
/// </summary>
/// <remarks>
/// Per algorithm: the windowed ones (fixed window, sliding log, sliding counter) count in fixed windows of the policy's
/// window; token bucket and GCRA refill a bucket of the share of their capacity (burst) at the share of their rate (a
/// GCRA queue meters, it makes no request wait); concurrency counts the requests in flight. Bounded: at most
/// <see cref="MaxPartitions"/> partitions are tracked; past that, new partitions share one bucket per policy.
/// </remarks>
internal sealed class LocalFallbackLimiter(TimeProvider timeProvider)
{
    internal const int MaxPartitions = 100_000;
    private const string Overflow = "\0overflow";

    private readonly ConcurrentDictionary<(RateLimitPolicy Policy, string Tag), Bucket> _buckets = new();
    private int _count;
    private volatile bool _used;

    /// <summary>Partitions tracked; for tests.</summary>
    internal int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Decides the request in memory, all or nothing: fills each decision (result, remaining, t, retry) and returns
    /// whether every policy accepted; a rejected request takes nothing.
    /// </summary>
    public bool TryAcquire(List<PolicyDecision> decisions, int instanceCount)
    {
        _used = true;
        var now = timeProvider.GetTimestamp();
        var allowed = true;
        foreach (var d in decisions)
        {
            var bucket = Find(d, instanceCount);
            lock (bucket)
            {
                allowed &= bucket.TryTake(d, now, timeProvider.TimestampFrequency);
            }
        }

        if (!allowed)
        {
            foreach (var d in decisions)
            {
                if (d.Result == RedisRateLimitResult.FallbackAllowed)
                {
                    var bucket = Find(d, instanceCount);
                    lock (bucket)
                    {
                        bucket.Give(d.Cost);
                    }
                }
            }
        }

        return allowed;
    }

    /// <summary>The request ended: the concurrency slots it held in memory are free again.</summary>
    public void Release(List<PolicyDecision> decisions)
    {
        foreach (var d in decisions)
        {
            if (d.Policy.Algorithm == RedisRateLimitAlgorithm.Concurrency && d.Result == RedisRateLimitResult.FallbackAllowed &&
                _buckets.TryGetValue((d.Policy, d.Tag), out var bucket))
            {
                lock (bucket)
                {
                    bucket.Give(d.Cost);
                }
            }
        }
    }

    /// <summary>Redis answers again: the in-memory state decides nothing more (a volatile read when unused).</summary>
    public void Reset()
    {
        if (!_used)
        {
            return;
        }

        _used = false;
        foreach (var pair in _buckets)
        {
            if (_buckets.TryRemove(pair))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    private Bucket Find(PolicyDecision d, int instanceCount)
    {
        var key = (d.Policy, d.Tag);
        if (_buckets.TryGetValue(key, out var bucket))
        {
            return bucket;
        }

        if (Volatile.Read(ref _count) >= MaxPartitions)
        {
            key = (d.Policy, Overflow);
            if (_buckets.TryGetValue(key, out bucket))
            {
                return bucket;
            }
        }

        var created = new Bucket(d, instanceCount, timeProvider.GetTimestamp());
        bucket = _buckets.GetOrAdd(key, created);
        if (ReferenceEquals(bucket, created))
        {
            Interlocked.Increment(ref _count);
        }

        return bucket;
    }

    /// <summary>One partition's in-memory state; callers lock it.</summary>
    private sealed class Bucket
    {
        private readonly RedisRateLimitAlgorithm _algorithm;
        private readonly long _share;
        private readonly double _periodMs;
        private readonly double _ratePerMs;
        private long _start;
        private double _used;
        private double _tokens;

        public Bucket(PolicyDecision d, int instanceCount, long now)
        {
            _algorithm = d.Policy.Algorithm;
            _periodMs = d.Policy.PeriodMs;
            _start = now;
            var n = Math.Max(1, instanceCount);
            if (_algorithm is RedisRateLimitAlgorithm.TokenBucket or RedisRateLimitAlgorithm.Gcra)
            {
                var capacity = _algorithm == RedisRateLimitAlgorithm.Gcra && d.P1 > 0 ? d.P1 : d.Limit;
                var perPeriod = _algorithm == RedisRateLimitAlgorithm.TokenBucket && d.P1 > 0 ? d.P1 : d.Limit;
                _share = Math.Max(1, capacity / n);
                _ratePerMs = (double)perPeriod / n / Math.Max(1, _periodMs);
                _tokens = _share;
            }
            else
            {
                _share = Math.Max(1, d.Limit / n);
            }
        }

        public bool TryTake(PolicyDecision d, long now, long frequency)
        {
            var elapsedMs = (now - _start) * 1000.0 / frequency;
            bool ok;
            switch (_algorithm)
            {
                case RedisRateLimitAlgorithm.Concurrency:
                    ok = _used + d.Cost <= _share;
                    _used += ok ? d.Cost : 0;
                    d.Remaining = (long)(_share - _used);
                    d.ResetMs = 0;
                    d.RetryMs = ok ? 0 : d.Cost > _share ? -1 : 1000;
                    break;

                case RedisRateLimitAlgorithm.TokenBucket or RedisRateLimitAlgorithm.Gcra:
                    _tokens = Math.Min(_share, _tokens + (elapsedMs * _ratePerMs));
                    _start = now;
                    ok = _tokens + 1e-9 >= d.Cost;
                    _tokens -= ok ? d.Cost : 0;
                    var whole = Math.Floor(_tokens + 1e-9);
                    d.Remaining = (long)whole;
                    d.ResetMs = (long)Math.Ceiling((whole + 1 - _tokens) / _ratePerMs);
                    d.RetryMs = ok ? 0 : d.Cost > _share ? -1 : (long)Math.Ceiling((d.Cost - _tokens) / _ratePerMs);
                    break;

                default:
                    if (elapsedMs >= _periodMs)
                    {
                        _start = now;
                        _used = 0;
                        elapsedMs = 0;
                    }

                    ok = _used + d.Cost <= _share;
                    _used += ok ? d.Cost : 0;
                    d.Remaining = (long)(_share - _used);
                    d.ResetMs = (long)Math.Ceiling(_periodMs - elapsedMs);
                    d.RetryMs = ok ? 0 : d.Cost > _share ? -1 : Math.Max(1, d.ResetMs);
                    break;
            }

            d.Result = ok ? RedisRateLimitResult.FallbackAllowed : RedisRateLimitResult.FallbackRejected;
            return ok;
        }

        /// <summary>Gives back what a request took (it was rejected by another policy, or its concurrency slot ended).</summary>
        public void Give(int cost)
        {
            if (_algorithm is RedisRateLimitAlgorithm.TokenBucket or RedisRateLimitAlgorithm.Gcra)
            {
                _tokens = Math.Min(_share, _tokens + cost);
            }
            else
            {
                _used = Math.Max(0, _used - cost);
            }
        }
    }
}
