using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster for the tests: six <c>redis-server</c> processes on free loopback ports (three primaries,
/// three replicas, created with <c>redis-cli --cluster create ... --cluster-replicas 1</c>), a short
/// <c>cluster-node-timeout</c> so failover takes about a second or two, torn down afterwards.
/// </summary>
public sealed class RedisClusterProcess : IAsyncDisposable
{
    /// <summary>How long a node may be unreachable before the cluster fails it over.</summary>
    public const int NodeTimeoutMilliseconds = 1000;

    private readonly List<RedisServerProcess> _nodes;

    private RedisClusterProcess(List<RedisServerProcess> nodes) => _nodes = nodes;

    public IReadOnlyList<RedisServerProcess> Nodes => _nodes;

    /// <summary>A StackExchange.Redis configuration string naming every node.</summary>
    public string Configuration => string.Join(',', _nodes.Select(n => n.Configuration));

    public static async Task<RedisClusterProcess> StartAsync(int primaries = 3, int replicasPerPrimary = 1)
    {
        var count = primaries * (1 + replicasPerPrimary);
        var ports = FreeClusterPorts(count);
        var nodes = new List<RedisServerProcess>(count);
        try
        {
            foreach (var port in ports)
            {
                nodes.Add(await RedisServerProcess.StartAsync(
                    port,
                    [
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", $"nodes-{port}.conf",
                        "--cluster-node-timeout", NodeTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture),
                        "--cluster-require-full-coverage", "no",
                        "--cluster-allow-reads-when-down", "no",

                        // A replica syncs at once (the default waits 5 s to batch replicas), so the cluster is
                        // fault-tolerant when StartAsync returns; a replica that lost its primary always stands.
                        "--repl-diskless-sync-delay", "0",
                        "--cluster-replica-validity-factor", "0",
                    ],
                    waitUntilReady: false));
            }

            foreach (var port in ports)
            {
                await WaitForPingAsync(port);
            }

            var create = new List<string> { "--cluster", "create" };
            create.AddRange(ports.Select(p => $"127.0.0.1:{p}"));
            create.AddRange(["--cluster-replicas", replicasPerPrimary.ToString(CultureInfo.InvariantCulture), "--cluster-yes"]);
            var (code, output) = await RedisCliAsync(create);
            if (code != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed ({code}):\n{output}");
            }

            var cluster = new RedisClusterProcess(nodes);
            await cluster.WaitUntilHealthyAsync(TimeSpan.FromSeconds(30));
            return cluster;
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// Waits until every running node reports <c>cluster_state:ok</c>, every slot is served by a primary that
    /// answers, and every live primary has its replicas attached.
    /// </summary>
    public async Task WaitUntilHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            var healthy = true;
            foreach (var node in _nodes.Where(n => n.IsRunning))
            {
                var (code, info) = await RedisCliAsync(["-p", node.Port.ToString(CultureInfo.InvariantCulture), "cluster", "info"]);
                if (code != 0 || !info.Contains("cluster_state:ok", StringComparison.Ordinal) ||
                    !info.Contains("cluster_slots_ok:16384", StringComparison.Ordinal))
                {
                    healthy = false;
                    last = info;
                    break;
                }
            }

            if (healthy)
            {
                // Replicas start as slotless primaries and become replicas by gossip: wait until every running node's
                // view has each running node either serving slots or replicating.
                foreach (var node in _nodes.Where(n => n.IsRunning))
                {
                    var (_, nodes) = await RedisCliAsync(["-p", node.Port.ToString(CultureInfo.InvariantCulture), "cluster", "nodes"]);
                    var settled = nodes.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                        .Select(l => l.Trim().Split(' '))
                        .Where(parts => parts.Length >= 8 && !parts[2].Contains("fail", StringComparison.Ordinal))
                        .All(parts => parts[2].Contains("slave", StringComparison.Ordinal) || parts.Length > 8);
                    if (!settled)
                    {
                        healthy = false;
                        last = nodes;
                        break;
                    }

                    // A replica that never completed its first sync cannot take over: wait for the link.
                    var (_, replication) = await RedisCliAsync(["-p", node.Port.ToString(CultureInfo.InvariantCulture), "info", "replication"]);
                    if (replication.Contains("role:slave", StringComparison.Ordinal) &&
                        !replication.Contains("master_link_status:up", StringComparison.Ordinal) &&
                        _nodes.Any(n => n.IsRunning && replication.Contains($"master_port:{n.Port.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)))
                    {
                        healthy = false;
                        last = replication;
                        break;
                    }
                }
            }

            if (healthy)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The Redis cluster did not become healthy within {timeout}. Last CLUSTER INFO:\n{last}");
    }

    /// <summary>
    /// After <paramref name="victim"/> was killed: waits until the other nodes mark it failed (after
    /// <see cref="NodeTimeoutMilliseconds"/>) and a replica has taken over its slots.
    /// </summary>
    public async Task WaitUntilFailedOverAsync(RedisServerProcess victim, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var probe = _nodes.First(n => n.IsRunning);
        var address = $"127.0.0.1:{victim.Port.ToString(CultureInfo.InvariantCulture)}@";
        while (true)
        {
            var (_, nodes) = await RedisCliAsync(["-p", probe.Port.ToString(CultureInfo.InvariantCulture), "cluster", "nodes"]);
            var line = nodes.Split('\n').FirstOrDefault(l => l.Contains(address, StringComparison.Ordinal));
            if (line is not null && line.Split(' ')[2].Split(',').Contains("fail"))
            {
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Node {victim.Port} was not marked failed within {timeout}:\n{nodes}");
            }

            await Task.Delay(50);
        }

        await WaitUntilHealthyAsync(deadline - DateTime.UtcNow);
    }

    /// <summary>The running primaries and the slot ranges each serves, from <c>CLUSTER NODES</c> as a live node sees them.</summary>
    public async Task<IReadOnlyList<(RedisServerProcess Node, IReadOnlyList<(int Low, int High)> Slots)>> PrimariesAsync()
    {
        var probe = _nodes.First(n => n.IsRunning);
        var (_, output) = await RedisCliAsync(["-p", probe.Port.ToString(CultureInfo.InvariantCulture), "cluster", "nodes"]);
        var primaries = new List<(RedisServerProcess, IReadOnlyList<(int, int)>)>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // <id> <ip:port@bus> <flags> <primary> <ping> <pong> <epoch> <link> <slot or range>...
            var parts = line.Trim().Split(' ');
            if (parts.Length <= 8 || !parts[2].Contains("master", StringComparison.Ordinal) || parts[2].Contains("fail", StringComparison.Ordinal))
            {
                continue;
            }

            var port = int.Parse(parts[1].Split('@')[0].Split(':')[1], CultureInfo.InvariantCulture);
            var node = _nodes.FirstOrDefault(n => n.Port == port && n.IsRunning);
            if (node is null)
            {
                continue;
            }

            var ranges = new List<(int, int)>();
            foreach (var range in parts.Skip(8).Where(r => !r.StartsWith('[')))
            {
                var bounds = range.Split('-');
                var low = int.Parse(bounds[0], CultureInfo.InvariantCulture);
                ranges.Add((low, bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : low));
            }

            primaries.Add((node, ranges));
        }

        return primaries;
    }

    /// <summary>The running primary that serves the slot of <paramref name="key"/>.</summary>
    public async Task<RedisServerProcess> PrimaryForAsync(RedisKey key)
    {
        var slot = HashSlot(key);
        foreach (var (node, slots) in await PrimariesAsync())
        {
            if (slots.Any(r => slot >= r.Low && slot <= r.High))
            {
                return node;
            }
        }

        throw new InvalidOperationException($"No running primary serves slot {slot}.");
    }

    /// <summary>The cluster hash slot of <paramref name="key"/> (CRC16 of the hash tag, or of the whole key, mod 16384).</summary>
    public static int HashSlot(RedisKey key)
    {
        var bytes = (byte[])key!;
        var start = Array.IndexOf(bytes, (byte)'{');
        if (start >= 0)
        {
            var end = Array.IndexOf(bytes, (byte)'}', start + 1);
            if (end > start + 1)
            {
                bytes = bytes[(start + 1)..end];
            }
        }

        ushort crc = 0;
        foreach (var b in bytes)
        {
            crc ^= (ushort)(b << 8);
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        return crc % 16384;
    }

    /// <summary>Runs <c>redis-cli</c> with <paramref name="arguments"/>; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RedisCliAsync(IEnumerable<string> arguments)
    {
        var cli = RedisServerProcess.FindOnPath("redis-cli", Environment.GetEnvironmentVariable("PATH"))
            ?? throw new InvalidOperationException(RedisServerProcess.InstallHint);
        var start = new ProcessStartInfo(cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static async Task WaitForPingAsync(int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var (code, output) = await RedisCliAsync(["-p", port.ToString(CultureInfo.InvariantCulture), "ping"]);
            if (code == 0 && output.Contains("PONG", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"Cluster node on port {port} did not answer PING within 20 s.");
    }

    /// <summary>Ports p whose cluster bus port p + 10000 is free too, below 55536 so the bus port exists.</summary>
    private static List<int> FreeClusterPorts(int count)
    {
        var ports = new List<int>(count);
        var candidate = Random.Shared.Next(20000, 40000);
        while (ports.Count < count)
        {
            candidate++;
            if (IsFree(candidate) && IsFree(candidate + 10000))
            {
                ports.Add(candidate);
            }
        }

        return ports;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
