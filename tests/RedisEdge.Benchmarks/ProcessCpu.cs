using System.Globalization;

namespace RedisEdge.Benchmarks;

/// <summary>CPU time of processes, read from <c>/proc</c> (Linux; the benchmark runs where wrk and redis-server run).</summary>
internal static class ProcessCpu
{
    // /proc reports times in USER_HZ ticks, which the kernel fixes at 100 per second for user space.
    private const double TicksPerSecond = 100;

    /// <summary>User + system CPU time of a live process.</summary>
    public static TimeSpan Of(int pid) => Read($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat", utimeField: 14);

    /// <summary>
    /// User + system CPU time of this process's children that have exited and been waited for. The difference
    /// around one wrk run is that run's CPU time (nothing else of ours exits meanwhile), exact to the tick.
    /// </summary>
    public static TimeSpan OfReapedChildren() => Read("/proc/self/stat", utimeField: 16);

    private static TimeSpan Read(string path, int utimeField)
    {
        var text = File.ReadAllText(path);
        // Fields after the command name, which is in parentheses and may contain spaces; field 3 is the first one.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        var user = long.Parse(fields[utimeField - 3], CultureInfo.InvariantCulture);
        var system = long.Parse(fields[utimeField - 2], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((user + system) / TicksPerSecond);
    }
}
