using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RedisEdge.Benchmarks;

/// <summary>
/// A private nginx on a free loopback port that answers every request with <c>200 ok</c> from one worker: the
/// cheapest HTTP server at hand, so wrk against it shows how many requests per second the generator itself can
/// drive on this machine (the generator-ceiling row).
/// </summary>
internal sealed class NginxProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private NginxProcess(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Starts nginx, or returns <see langword="null"/> when it is not installed (the row is then skipped).</summary>
    public static async Task<NginxProcess?> TryStartAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var directory = Directory.CreateTempSubdirectory("redisedge-bench-nginx-").FullName;
        var config = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(config, $$"""
            # One process, no daemon: the harness owns it and kills it at the end.
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path {{directory}};
                server {
                    listen 127.0.0.1:{{port.ToString(CultureInfo.InvariantCulture)}};
                    location / { return 200 "ok"; }
                }
            }
            """);

        var start = new ProcessStartInfo("nginx") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var arg in new[] { "-p", directory, "-e", Path.Combine(directory, "error.log"), "-c", config })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Directory.Delete(directory, recursive: true);
            return null;
        }

        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var nginx = new NginxProcess(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (process.HasExited)
            {
                break;
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return nginx;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        var log = Path.Combine(directory, "error.log");
        var errors = File.Exists(log) ? await File.ReadAllTextAsync(log) : string.Empty;
        await nginx.DisposeAsync();
        throw new InvalidOperationException($"nginx did not start on 127.0.0.1:{port}.{Environment.NewLine}{errors}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
