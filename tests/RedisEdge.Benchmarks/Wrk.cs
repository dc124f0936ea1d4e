using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace RedisEdge.Benchmarks;

/// <summary>
/// Drives load with wrk: a fixed duration, a per-request timeout, loopback targets only. wrk always stops by itself at
/// the end of its duration, however the app behaves; the harness still kills it if it outlives that by far.
/// </summary>
internal static class Wrk
{
    private const string ResultMarker = "WRK-RESULT ";

    /// <summary>Fails with an install hint when wrk is not on PATH (CI installs it with apt-get).</summary>
    public static void EnsureInstalled()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        if (!path.Split(Path.PathSeparator).Any(directory => directory.Length > 0 && File.Exists(Path.Combine(directory, "wrk"))))
        {
            throw new InvalidOperationException(
                "wrk was not found on PATH. The benchmark drives its load with wrk; install it with " +
                "`sudo apt-get install -y wrk` (Debian/Ubuntu) and run it again.");
        }
    }

    public static async Task<WrkResult> RunAsync(Uri address, WrkLoad load, CancellationToken cancellationToken = default)
    {
        if (!IPAddress.TryParse(address.Host, out var ip) || !IPAddress.IsLoopback(ip))
        {
            throw new InvalidOperationException($"wrk only targets loopback addresses here; {address} is not one.");
        }

        var script = Path.Combine(Path.GetTempPath(), $"redisedge-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, LuaScript(load), cancellationToken);
        try
        {
            var start = new ProcessStartInfo("wrk")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in new[]
            {
                "--threads", load.Threads.ToString(CultureInfo.InvariantCulture),
                "--connections", load.Connections.ToString(CultureInfo.InvariantCulture),
                "--duration", Seconds(load.Duration),
                "--timeout", Seconds(load.RequestTimeout),
                "--script", script,
                new Uri(address, load.Path).ToString(),
            })
            {
                start.ArgumentList.Add(arg);
            }

            var cpuBefore = ProcessCpu.OfReapedChildren();
            using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start wrk.");
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(load.Duration + load.RequestTimeout + TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                throw new TimeoutException($"wrk did not stop by itself after {load.Duration}; it was killed.");
            }

            var cpu = ProcessCpu.OfReapedChildren() - cpuBefore;
            var text = await output;
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(ResultMarker, StringComparison.Ordinal));
            if (process.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException($"wrk failed (exit code {process.ExitCode}).{Environment.NewLine}{text}{await errors}");
            }

            return Parse(line[ResultMarker.Length..], cpu);
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";

    /// <summary>
    /// The wrk script: every request is pre-formatted once per thread and handed out round-robin (so connections
    /// spread over the scenario's sessions); each thread counts what it sent, what came back and every status other
    /// than the expected one; <c>done</c> adds up the threads and prints one machine-readable line.
    /// </summary>
    /// <remarks>
    /// wrk 4 does not abort a request that exceeds <c>--timeout</c>: it counts a response that arrives later as a
    /// timeout, and a request still pending when the duration ends is not counted at all. Sent minus received
    /// makes that second kind visible. wrk builds one request in the first thread at start-up to check the script
    /// and never sends it, hence the 1 taken off.
    /// </remarks>
    private static string LuaScript(WrkLoad load)
    {
        var lua = new StringBuilder();
        lua.AppendLine("-- Generated by RedisEdge.Benchmarks for one run.");
        lua.AppendLine("local threads = {}");
        lua.AppendLine("function setup(thread) table.insert(threads, thread) end");
        lua.AppendLine("local requests = {}");
        lua.AppendLine("local next_request = 0");
        lua.AppendLine("sent = 0");
        lua.AppendLine("received = 0");
        lua.AppendLine("unexpected = {}");
        lua.AppendLine("function init(args)");
        foreach (var headers in load.HeaderSets)
        {
            lua.Append("  table.insert(requests, wrk.format(").Append(Quote(load.Method.Method)).Append(", ").Append(Quote(load.Path)).Append(", {");
            foreach (var (name, value) in headers)
            {
                lua.Append('[').Append(Quote(name)).Append("] = ").Append(Quote(value)).Append(", ");
            }

            lua.Append("}, ").Append(load.Body is null ? "nil" : Quote(load.Body)).AppendLine("))");
        }

        lua.AppendLine("end");
        lua.AppendLine("function request()");
        lua.AppendLine("  sent = sent + 1");
        lua.AppendLine("  next_request = next_request % #requests + 1");
        lua.AppendLine("  return requests[next_request]");
        lua.AppendLine("end");
        lua.AppendLine("function response(status)");
        lua.AppendLine("  received = received + 1");
        lua.Append("  if status ~= ").Append(load.ExpectedStatus.ToString(CultureInfo.InvariantCulture))
            .AppendLine(" then unexpected[status] = (unexpected[status] or 0) + 1 end");
        lua.AppendLine("end");
        lua.AppendLine("function done(summary, latency)");
        lua.AppendLine("  local pending, unexpected_total, by_status = 0, 0, {}");
        lua.AppendLine("  for _, thread in ipairs(threads) do");
        lua.AppendLine("    pending = pending + thread:get(\"sent\") - thread:get(\"received\")");
        lua.AppendLine("    for status, count in pairs(thread:get(\"unexpected\")) do");
        lua.AppendLine("      by_status[status] = (by_status[status] or 0) + count");
        lua.AppendLine("      unexpected_total = unexpected_total + count");
        lua.AppendLine("    end");
        lua.AppendLine("  end");
        lua.AppendLine("  pending = math.max(0, pending - 1)");
        lua.AppendLine("  local statuses = {}");
        lua.AppendLine("  for status, count in pairs(by_status) do table.insert(statuses, string.format(\"%d:%d\", status, count)) end");
        lua.Append("  io.write(string.format(\"").Append(ResultMarker)
            .Append("requests=%d duration_us=%d connect=%d read=%d write=%d status_over_399=%d timeout=%d pending=%d unexpected=%d p50_us=%d p99_us=%d by_status=%s\\n\",")
            .AppendLine();
        lua.AppendLine("    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,");
        lua.AppendLine("    summary.errors.status, summary.errors.timeout, pending, unexpected_total,");
        lua.AppendLine("    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), table.concat(statuses, \",\")))");
        lua.AppendLine("end");
        return lua.ToString();
    }

    private static string Quote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in value)
        {
            if (c is < ' ' or > '~')
            {
                throw new ArgumentException($"Only printable ASCII can go into a wrk request (got U+{(int)c:X4}).", nameof(value));
            }

            if (c is '"' or '\\')
            {
                quoted.Append('\\');
            }

            quoted.Append(c);
        }

        return quoted.Append('"').ToString();
    }

    private static WrkResult Parse(string line, TimeSpan cpu)
    {
        var values = line.Trim().Split(' ').Select(pair => pair.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        long Number(string name) => long.Parse(values[name], CultureInfo.InvariantCulture);
        var byStatus = values["by_status"].Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split(':'))
            .ToDictionary(p => int.Parse(p[0], CultureInfo.InvariantCulture), p => long.Parse(p[1], CultureInfo.InvariantCulture));
        return new WrkResult(
            Number("requests"),
            TimeSpan.FromMicroseconds(Number("duration_us")),
            Number("unexpected"),
            byStatus,
            Number("status_over_399"),
            Number("connect") + Number("read") + Number("write"),
            Number("timeout"),
            Number("pending"),
            TimeSpan.FromMicroseconds(Number("p50_us")),
            TimeSpan.FromMicroseconds(Number("p99_us")),
            cpu);
    }
}
