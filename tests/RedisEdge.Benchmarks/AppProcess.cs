using System.Diagnostics;
using System.Net;
using System.Reflection;

namespace RedisEdge.Benchmarks;

/// <summary>
/// The benchmark app (<see cref="BenchmarkApp"/>) running as a child process of the harness.
/// </summary>
/// <remarks>
/// A child process rather than the harness's own: the synchronous session rows can starve the app's thread pool
/// (issue 7), and a starved harness could neither bound the run nor restart the app, so every later row would
/// inherit a broken process. Out of process the harness stays responsive, kills an app that no longer answers,
/// and starts a fresh one; the app's allocations and CPU time are its own, with no harness work mixed in.
/// </remarks>
internal sealed class AppProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly HttpClient _client;
    private bool _disposed;

    private AppProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        _client = new HttpClient(new SocketsHttpHandler { UseCookies = false, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = address,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    public static async Task<AppProcess> StartAsync(string redisConfiguration, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            // Started as `dotnet RedisEdge.Benchmarks.dll`: the child needs the assembly too.
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        start.ArgumentList.Add("app");
        start.ArgumentList.Add("--redis");
        start.ArgumentList.Add(redisConfiguration);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the benchmark app.");
        var errors = new StringWriter();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (errors)
                {
                    errors.WriteLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(BenchmarkApp.ListeningMarker, StringComparison.Ordinal))
                {
                    var address = new Uri(line[BenchmarkApp.ListeningMarker.Length..]);
                    if (!IPAddress.TryParse(address.Host, out var ip) || !IPAddress.IsLoopback(ip))
                    {
                        throw new InvalidOperationException($"The benchmark app listens on {address}, which is not a loopback address.");
                    }

                    // Keep draining standard output so the app never blocks on a full pipe.
                    _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                    return new AppProcess(process, address);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        string log;
        lock (errors)
        {
            log = errors.ToString();
        }

        throw new InvalidOperationException($"The benchmark app did not start within {StartTimeout.TotalSeconds:0} s.{Environment.NewLine}{log}");
    }

    /// <summary>CPU time the app process has used so far, or <see langword="null"/> when it is gone.</summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            return ProcessCpu.Of(_process.Id);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The app's counters, or <see langword="null"/> when it does not answer within <paramref name="timeout"/>.</summary>
    public async Task<AppStats?> TryGetStatsAsync(TimeSpan timeout)
    {
        var text = await TryGetStringAsync("/_bench/stats", timeout);
        return text is null ? null : AppStats.Parse(text);
    }

    /// <summary>Whether the app answers <c>/plain</c> within <paramref name="timeout"/>.</summary>
    public async Task<bool> IsResponsiveAsync(TimeSpan timeout) => await TryGetStringAsync("/plain", timeout) == "ok";

    /// <summary>Sends one request and returns its status code (a set-up step such as priming a cache).</summary>
    public async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, TimeSpan timeout, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var cancel = new CancellationTokenSource(timeout);
        using var request = new HttpRequestMessage(method, path);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await _client.SendAsync(request, cancel.Token);
        return response.StatusCode;
    }

    /// <summary>Posts to <paramref name="path"/> and returns the <c>name=value</c> of the cookie the response sets.</summary>
    public async Task<string> LoginAsync(string path)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await _client.PostAsync(path, content: null, cancel.Token);
        if (response.StatusCode != HttpStatusCode.OK || !response.Headers.TryGetValues("Set-Cookie", out var cookies))
        {
            throw new InvalidOperationException($"POST {path} answered {(int)response.StatusCode} without a session cookie.");
        }

        return cookies.First().Split(';')[0];
    }

    private async Task<string?> TryGetStringAsync(string path, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            using var response = await _client.GetAsync(path, cancel.Token);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(cancel.Token) : null;
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _client.Dispose();
        if (!_process.HasExited)
        {
            // A healthy app stops when its standard input closes; a starved one may not, and is killed.
            _process.StandardInput.Close();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }
}
