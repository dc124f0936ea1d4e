using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace RedisEdge.Benchmarks;

/// <summary>A private redis-server on a free loopback port, stopped with the benchmark.</summary>
internal sealed class BenchmarkRedis : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private CpuGroup? _cpuGroup;

    private BenchmarkRedis(Process process, string directory, int port, ConnectionMultiplexer admin)
    {
        _process = process;
        _directory = directory;
        Configuration = $"127.0.0.1:{port}";
        Admin = admin;
    }

    public string Configuration { get; }

    public ConnectionMultiplexer Admin { get; }

    public static async Task<BenchmarkRedis> StartAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var directory = Directory.CreateTempSubdirectory("redisedge-bench-").FullName;
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no", "--dir", directory })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server was not found on PATH; install it (sudo apt-get install -y redis-server).", ex);
        }

        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var options = ConfigurationOptions.Parse($"127.0.0.1:{port}");
                options.AllowAdmin = true;
                return new BenchmarkRedis(process, directory, port, await ConnectionMultiplexer.ConnectAsync(options));
            }
            catch (RedisConnectionException) when (attempt < 100)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>
    /// Caps redis-server at <paramref name="cores"/> of CPU (a Linux cgroup CPU quota: 10 ms periods, v1 or v2), or lifts
    /// the cap (<see langword="null"/>); returns a reason when the machine does not allow it (not root, no cgroup CPU
    /// controller). The cap models a Redis shard that the fleet saturates: a 2-core machine cannot run enough app
    /// instances to saturate a whole Redis core, so the rows that need a Redis-bound shard give Redis less instead.
    /// </summary>
    public string? TryLimitCpu(double? cores)
    {
        const int PeriodMicroseconds = 10_000;
        try
        {
            _cpuGroup ??= CpuGroup.Create(_process.Id);
            _cpuGroup.Limit(cores is { } c ? (int)Math.Round(c * PeriodMicroseconds) : null, PeriodMicroseconds);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return "Redis CPU cap unavailable: " + ex.Message;
        }
    }

    /// <summary>The Redis server's version, for the report.</summary>
    public string Version => Admin.GetServer(Admin.GetEndPoints()[0]).Version.ToString();

    /// <summary>
    /// Script calls and their time (<c>INFO commandstats</c>: <c>EVALSHA</c> + <c>EVAL</c>, whose time includes the
    /// commands the script runs) and the server's CPU time (<c>INFO cpu</c>), so a run's delta gives Redis µs per script
    /// call and Redis CPU per request.
    /// </summary>
    public async Task<RedisSnapshot> SnapshotAsync()
    {
        var server = Admin.GetServer(Admin.GetEndPoints()[0]);
        long calls = 0, microseconds = 0;
        foreach (var group in await server.InfoAsync("commandstats"))
        {
            foreach (var (name, value) in group)
            {
                if (name is "cmdstat_evalsha" or "cmdstat_eval")
                {
                    var fields = value.Split(',').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
                    calls += long.Parse(fields["calls"], CultureInfo.InvariantCulture);
                    microseconds += long.Parse(fields["usec"], CultureInfo.InvariantCulture);
                }
            }
        }

        double cpuSeconds = 0;
        foreach (var group in await server.InfoAsync("cpu"))
        {
            foreach (var (name, value) in group)
            {
                if (name is "used_cpu_sys" or "used_cpu_user")
                {
                    cpuSeconds += double.Parse(value, CultureInfo.InvariantCulture);
                }
            }
        }

        return new RedisSnapshot(calls, microseconds, TimeSpan.FromSeconds(cpuSeconds));
    }

    public async ValueTask DisposeAsync()
    {
        await Admin.DisposeAsync();
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _cpuGroup?.Delete();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>A cgroup of its own for redis-server, whose CPU quota the benchmark sets per row.</summary>
    private sealed class CpuGroup
    {
        private readonly string _path;
        private readonly bool _v2;

        private CpuGroup(string path, bool v2)
        {
            _path = path;
            _v2 = v2;
        }

        public static CpuGroup Create(int pid)
        {
            var name = "redisedge-bench-" + pid.ToString(CultureInfo.InvariantCulture);
            CpuGroup group;
            if (File.Exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
            {
                group = new CpuGroup(Path.Combine("/sys/fs/cgroup/cpu", name), v2: false);
            }
            else if (File.Exists("/sys/fs/cgroup/cgroup.controllers") && File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Split(' ', '\n').Contains("cpu"))
            {
                group = new CpuGroup(Path.Combine("/sys/fs/cgroup", name), v2: true);
            }
            else
            {
                throw new InvalidOperationException("no cgroup CPU controller at /sys/fs/cgroup/cpu (v1) or /sys/fs/cgroup (v2)");
            }

            Directory.CreateDirectory(group._path);
            File.WriteAllText(Path.Combine(group._path, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
            return group;
        }

        public void Limit(int? quotaMicroseconds, int periodMicroseconds)
        {
            if (_v2)
            {
                File.WriteAllText(Path.Combine(_path, "cpu.max"), Invariant($"{(quotaMicroseconds is { } q ? q.ToString(CultureInfo.InvariantCulture) : "max")} {periodMicroseconds}"));
            }
            else
            {
                File.WriteAllText(Path.Combine(_path, "cpu.cfs_period_us"), periodMicroseconds.ToString(CultureInfo.InvariantCulture));
                File.WriteAllText(Path.Combine(_path, "cpu.cfs_quota_us"), (quotaMicroseconds ?? -1).ToString(CultureInfo.InvariantCulture));
            }
        }

        /// <summary>Removes the group once its process has exited (a cgroup directory is removed with rmdir).</summary>
        public void Delete()
        {
            try
            {
                Directory.Delete(_path);
            }
            catch (IOException)
            {
                // Still busy for a moment after the kill; the kernel keeps an empty group harmlessly.
            }
        }

        private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
