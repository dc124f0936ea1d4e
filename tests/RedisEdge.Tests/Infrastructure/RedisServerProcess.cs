using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// A private <c>redis-server</c> on a free loopback port, in a temporary directory, without persistence.
/// It can be killed and started again on the same port to test outages.
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    public const string InstallHint =
        "redis-server was not found on PATH. RedisEdge's tests run against a real Redis: install it " +
        "(Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) " +
        "or point REDISEDGE_TEST_REDIS at a disposable server (host:port).";

    private readonly string _executable;
    private readonly string _directory;
    private readonly string[] _extraArguments;
    private Process? _process;

    private RedisServerProcess(string executable, int port, string[] extraArguments)
    {
        _executable = executable;
        Port = port;
        _extraArguments = extraArguments;
        _directory = Directory.CreateTempSubdirectory("redisedge-test-").FullName;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    public static Task<RedisServerProcess> StartAsync() => StartAsync(FreePort(), []);

    /// <summary>Starts a server on <paramref name="port"/> with extra <c>redis-server</c> arguments (cluster mode, say).</summary>
    public static async Task<RedisServerProcess> StartAsync(int port, string[] extraArguments, bool waitUntilReady = true)
    {
        var executable = FindOnPath("redis-server", Environment.GetEnvironmentVariable("PATH")) ?? throw new InvalidOperationException(InstallHint);
        var server = new RedisServerProcess(executable, port, extraArguments);
        await server.StartAgainAsync(waitUntilReady);
        return server;
    }

    /// <summary>Starts the server (again) on the same port.</summary>
    public async Task StartAgainAsync(bool waitUntilReady = true)
    {
        if (IsRunning)
        {
            return;
        }

        var start = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        foreach (var arg in new[]
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--save", string.Empty,
            "--appendonly", "no",
            "--dir", _directory,
            "--protected-mode", "no",
            "--loglevel", "warning",
        })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var arg in _extraArguments)
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (waitUntilReady)
        {
            await WaitUntilReadyAsync(Configuration, _process);
        }
    }

    /// <summary>Kills the server abruptly (SIGKILL), as a crash or network partition would look to clients.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static async Task WaitUntilReadyAsync(string configuration, Process? process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (process is { HasExited: true })
            {
                throw new InvalidOperationException($"redis-server exited with code {process.ExitCode} before it was ready.");
            }

            try
            {
                var options = ConfigurationOptions.Parse(configuration);
                options.ConnectTimeout = 1000;
                options.AbortOnConnectFail = true;
                await using var probe = await ConnectionMultiplexer.ConnectAsync(options);
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException ex)
            {
                last = ex;
                await Task.Delay(50);
            }
        }

        throw new InvalidOperationException($"Redis at {configuration} did not answer PING within 20 s.", last);
    }

    internal static string? FindOnPath(string name, string? path)
    {
        foreach (var dir in (path ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
