using System.Net;
using StackExchange.Redis;

namespace RedisEdge.Internal;

internal sealed partial class RedisScriptRunner
{
    /// <summary>
    /// The breaker of a single server (every call's there), and on a cluster of calls whose server is not known yet;
    /// exposed for tests. A cluster call uses <see cref="BreakerFor"/>.
    /// </summary>
    internal RedisCircuitBreaker Breaker => _breakers.Default;

    /// <summary>The breaker that guards a call with <paramref name="keys"/>: that of the server serving their slot.</summary>
    internal RedisCircuitBreaker BreakerFor(RedisKey[] keys) =>
        keys.Length == 0 ? _breakers.Default : _breakers.For(_connection.Multiplexer.HashSlot(keys[0]), keys[0]);

    /// <summary>
    /// The server that serves <paramref name="slot"/>, as the client sees the cluster: the node it routes the key to,
    /// unless that node is only a stand-in because the slot's primary is disconnected (the cluster configuration still
    /// names the primary, whose breaker must count the failures). A replica of that primary is no stand-in: the client
    /// routes to it once it was promoted, while its configuration may still say otherwise. Called once per slot and
    /// topology change.
    /// </summary>
    private EndPoint? OwnerOf(int slot, RedisKey key)
    {
        var multiplexer = _connection.Multiplexer;
        FollowTopology(multiplexer);
        try
        {
            var server = multiplexer.GetServer(key);
            var configuration = server.ClusterConfiguration;
            if (configuration?.GetBySlot(slot) is { EndPoint: { } configured } owner &&
                !configured.Equals(server.EndPoint) &&
                configuration[server.EndPoint]?.ParentNodeId != owner.NodeId &&
                !multiplexer.GetServer(configured).IsConnected)
            {
                return configured;
            }

            return server.EndPoint;
        }
        catch (Exception ex) when (ex is RedisConnectionException or InvalidOperationException or ArgumentException)
        {
            // No server is reachable, or the configured one is not one the client knows: the default breaker guards
            // the call until the client knows the slot's server.
            return null;
        }
    }

    /// <summary>Points slots at their new server when the cluster moves them, once per runner.</summary>
    private void FollowTopology(IConnectionMultiplexer multiplexer)
    {
        if (Volatile.Read(ref _followsTopology) != 0 || Interlocked.Exchange(ref _followsTopology, 1) != 0)
        {
            return;
        }

        multiplexer.HashSlotMoved += (_, moved) => _breakers.Moved(moved.HashSlot, moved.NewEndPoint);
        multiplexer.ConfigurationChanged += (_, _) => _breakers.TopologyChanged();
        multiplexer.ConfigurationChangedBroadcast += (_, _) => _breakers.TopologyChanged();
    }

    /// <summary>
    /// A breaker's probe succeeded. The server may be back, or its slots may have moved to a promoted replica, and the
    /// client may have learned that without an event (a reconfiguration, the probe's own <c>MOVED</c>): every slot
    /// resolves its server again, so the killed primary's slots use the new primary's breaker from now on.
    /// </summary>
    private void CircuitClosed(RedisCircuitBreaker breaker, RedisScript script)
    {
        if (breaker.EndPoint is not null)
        {
            _breakers.TopologyChanged();
        }

        Log.CircuitClosed(_logger, _telemetry.Name, EndPointName(breaker), script.Name);
    }

    /// <summary>The server a breaker guards, for its log lines.</summary>
    private string EndPointName(RedisCircuitBreaker breaker) =>
        breaker.EndPoint is { } endPoint
            ? EndPointCollection.ToString(endPoint)
            : string.Join(",", _connection.Multiplexer.GetEndPoints().Select(EndPointCollection.ToString));
}
