using System.Collections.Concurrent;
using System.Net;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// One <see cref="RedisCircuitBreaker"/> per Redis server: on a cluster, a call is guarded by the breaker of the
/// primary that serves its keys' slot, so a dead primary fails fast only the calls for its own slots while the other
/// primaries keep answering. On a single server (no slot) every call shares <see cref="Default"/>, as one breaker did.
/// </summary>
/// <remarks>
/// The slot → breaker map is a plain array read on every call (no allocation, no lock); an entry is resolved once,
/// through <c>ownerOf</c>, the first time a slot is used, and follows the topology: a <c>MOVED</c> answer (the client's
/// <see cref="IConnectionMultiplexer.HashSlotMoved"/>, how it learns that a replica was promoted or a slot migrated)
/// points the slot at the new server's breaker, and a reconfiguration forgets every entry so each resolves again. A
/// breaker is kept per endpoint ever seen; a cluster has few.
/// </remarks>
internal sealed class RedisCircuitBreakers
{
    private const int ClusterSlots = 16384;

    private readonly RedisFailurePolicyOptions _policy;
    private readonly TimeProvider _timeProvider;
    private readonly Func<int, RedisKey, EndPoint?> _ownerOf;
    private readonly ConcurrentDictionary<EndPoint, RedisCircuitBreaker> _byEndPoint = new();
    private RedisCircuitBreaker?[]? _bySlot;

    /// <param name="policy">The breaker settings every breaker shares.</param>
    /// <param name="timeProvider">The clock of the break durations.</param>
    /// <param name="ownerOf">The endpoint that serves a slot (given with one of its keys), or <see langword="null"/>
    /// when the client does not know yet; called once per slot and topology change, never per call.</param>
    public RedisCircuitBreakers(RedisFailurePolicyOptions policy, TimeProvider timeProvider, Func<int, RedisKey, EndPoint?> ownerOf)
    {
        _policy = policy;
        _timeProvider = timeProvider;
        _ownerOf = ownerOf;
        Default = new RedisCircuitBreaker(policy, timeProvider);
    }

    /// <summary>The breaker of a single server, and of calls whose server is not known (no key, slot not mapped yet).</summary>
    public RedisCircuitBreaker Default { get; }

    /// <summary>Whether any breaker is open: some calls (on a cluster, those of one or more primaries) fail fast.</summary>
    public bool AnyOpen
    {
        get
        {
            if (Default.IsOpen)
            {
                return true;
            }

            foreach (var (_, breaker) in _byEndPoint)
            {
                if (breaker.IsOpen)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The breaker of the endpoint that serves <paramref name="slot"/> (<c>-1</c>: no slot, a single server).</summary>
    public RedisCircuitBreaker For(int slot, in RedisKey key)
    {
        if (slot is < 0 or >= ClusterSlots)
        {
            return Default;
        }

        var map = Volatile.Read(ref _bySlot) ?? Map();
        if (Volatile.Read(ref map[slot]) is { } known)
        {
            return known;
        }

        if (_ownerOf(slot, key) is not { } owner)
        {
            return Default;
        }

        var breaker = ForEndPoint(owner);
        Volatile.Write(ref map[slot], breaker);
        return breaker;
    }

    /// <summary>The breaker of <paramref name="endPoint"/>, created on first use.</summary>
    public RedisCircuitBreaker ForEndPoint(EndPoint endPoint) =>
        _byEndPoint.GetOrAdd(endPoint, static (e, self) => new RedisCircuitBreaker(self._policy, self._timeProvider, e), this);

    /// <summary>The cluster moved <paramref name="slot"/> to <paramref name="endPoint"/> (a failover or a migration).</summary>
    public void Moved(int slot, EndPoint endPoint)
    {
        if (slot is >= 0 and < ClusterSlots)
        {
            Volatile.Write(ref Map()[slot], ForEndPoint(endPoint));
        }
    }

    /// <summary>The client reconfigured: every slot resolves its server again on its next call.</summary>
    public void TopologyChanged()
    {
        if (Volatile.Read(ref _bySlot) is not null)
        {
            Volatile.Write(ref _bySlot, new RedisCircuitBreaker?[ClusterSlots]);
        }
    }

    private RedisCircuitBreaker?[] Map()
    {
        if (Volatile.Read(ref _bySlot) is { } map)
        {
            return map;
        }

        Interlocked.CompareExchange(ref _bySlot, new RedisCircuitBreaker?[ClusterSlots], null);
        return _bySlot!;
    }
}
