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
        Directory.Delete(_directory, recursive: true);
    }
}
