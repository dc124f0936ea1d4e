using System.Globalization;

namespace RedisEdge.Benchmarks;

/// <summary>
/// Counters the app reports at <c>/_bench/stats</c>; the harness reads them before and after each measured run.
/// </summary>
/// <param name="AllocatedBytes"><see cref="GC.GetTotalAllocatedBytes(bool)"/> (precise) of the app process.</param>
/// <param name="RedisOperations">Commands the app's multiplexer has sent (its interactive connection's operation count).</param>
/// <param name="ThreadPoolThreads">Thread pool threads alive.</param>
/// <param name="BusyWorkerThreads">Thread pool worker threads in use.</param>
/// <param name="PendingWorkItems">Work items queued on the thread pool and not yet started.</param>
/// <param name="Gen0Collections">Generation 0 collections so far.</param>
/// <param name="Gen2Collections">Generation 2 collections so far.</param>
internal sealed record AppStats(
    long AllocatedBytes,
    long RedisOperations,
    int ThreadPoolThreads,
    int BusyWorkerThreads,
    long PendingWorkItems,
    int Gen0Collections,
    int Gen2Collections)
{
    public string Format() => string.Create(
        CultureInfo.InvariantCulture,
        $"{AllocatedBytes} {RedisOperations} {ThreadPoolThreads} {BusyWorkerThreads} {PendingWorkItems} {Gen0Collections} {Gen2Collections}");

    public static AppStats Parse(string text)
    {
        var parts = text.Split(' ');
        if (parts.Length != 7)
        {
            throw new FormatException($"Unexpected statistics from the app: '{text}'.");
        }

        return new AppStats(
            long.Parse(parts[0], CultureInfo.InvariantCulture),
            long.Parse(parts[1], CultureInfo.InvariantCulture),
            int.Parse(parts[2], CultureInfo.InvariantCulture),
            int.Parse(parts[3], CultureInfo.InvariantCulture),
            long.Parse(parts[4], CultureInfo.InvariantCulture),
            int.Parse(parts[5], CultureInfo.InvariantCulture),
            int.Parse(parts[6], CultureInfo.InvariantCulture));
    }
}
