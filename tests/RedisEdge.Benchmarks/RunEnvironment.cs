using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace RedisEdge.Benchmarks;

/// <summary>Where and on what a run happened, for the report's header.</summary>
internal sealed record RunEnvironment(DateTime StartedUtc, string Commit, string Machine, string Software)
{
    public TimeSpan Elapsed { get; init; }

    public static RunEnvironment Describe(DateTime startedUtc, string redisVersion)
    {
        var cpu = FirstValue("/proc/cpuinfo", "model name") ?? "unknown CPU";
        var memoryKb = FirstValue("/proc/meminfo", "MemTotal")?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var memory = long.TryParse(memoryKb, out var kb) ? $"{kb / 1024 / 1024} GiB" : "unknown memory";
        var os = FirstValue("/etc/os-release", "PRETTY_NAME", '=')?.Trim('"') ?? RuntimeInformation.OSDescription;
        var gc = GCSettings.IsServerGC ? "Server GC" : "Workstation GC";
        return new RunEnvironment(
            startedUtc,
            DescribeCommit(),
            $"{Environment.ProcessorCount} cores ({cpu}), {memory}, {os}",
            $"{RuntimeInformation.FrameworkDescription} ({gc}), Redis {redisVersion}, {WrkVersion()}");
    }

    private static string? FirstValue(string path, string key, char separator = ':')
    {
        if (!File.Exists(path))
        {
            return null;
        }

        return File.ReadLines(path)
            .Select(line => line.Split(separator, 2))
            .Where(parts => parts.Length == 2 && parts[0].Trim() == key)
            .Select(parts => parts[1].Trim())
            .FirstOrDefault();
    }

    private static string DescribeCommit()
    {
        var head = Run("git", "rev-parse", "--short", "HEAD");
        if (head is null)
        {
            return "unknown";
        }

        return string.IsNullOrWhiteSpace(Run("git", "status", "--porcelain", "--untracked-files=no")) ? head : head + " (with uncommitted changes)";
    }

    private static string WrkVersion() =>
        // `wrk --version` prints its banner and usage and exits with 1.
        Run("wrk", "--version")?.Split('\n')[0].Split('[')[0].Trim() ?? "wrk (version unknown)";

    private static string? Run(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return output.Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
