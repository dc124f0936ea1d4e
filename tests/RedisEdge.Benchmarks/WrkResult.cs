namespace RedisEdge.Benchmarks;

/// <summary>What one wrk run reported.</summary>
/// <param name="Requests">Responses received.</param>
/// <param name="Elapsed">How long wrk sent.</param>
/// <param name="UnexpectedStatuses">Responses whose status was not the expected one (counted by the wrk script).</param>
/// <param name="UnexpectedByStatus">Those responses by status code.</param>
/// <param name="StatusesOver399">wrk's own count of responses with a status of 400 or more (a cross-check).</param>
/// <param name="SocketErrors">Connect, read and write errors.</param>
/// <param name="SlowerThanTimeout">Responses that arrived later than the per-request timeout (wrk's "timeout").</param>
/// <param name="PendingAtStop">Requests sent that had no response when wrk stopped (in flight, or stalled).</param>
/// <param name="P50">Median latency.</param>
/// <param name="P99">99th percentile latency.</param>
/// <param name="Cpu">CPU time wrk used (user + system).</param>
internal sealed record WrkResult(
    long Requests,
    TimeSpan Elapsed,
    long UnexpectedStatuses,
    IReadOnlyDictionary<int, long> UnexpectedByStatus,
    long StatusesOver399,
    long SocketErrors,
    long SlowerThanTimeout,
    long PendingAtStop,
    TimeSpan P50,
    TimeSpan P99,
    TimeSpan Cpu)
{
    public double RequestsPerSecond => Elapsed > TimeSpan.Zero ? Requests / Elapsed.TotalSeconds : 0;
}
