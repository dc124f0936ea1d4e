namespace RedisEdge.Benchmarks;

/// <summary>One wrk run: what to send, from how many connections, for how long.</summary>
/// <param name="Method">HTTP method.</param>
/// <param name="Path">Path and query on the app.</param>
/// <param name="HeaderSets">One header set per distinct request (a session cookie each, say), handed out round-robin;
/// at least one, possibly empty.</param>
/// <param name="Body">Request body, or <see langword="null"/>.</param>
/// <param name="ExpectedStatus">Every other status counts as unexpected.</param>
/// <param name="Connections">wrk connections (concurrent requests).</param>
/// <param name="Threads">wrk threads.</param>
/// <param name="Duration">How long wrk sends.</param>
/// <param name="RequestTimeout">wrk's per-request timeout: a slower response counts as a timeout, never a hang.</param>
internal sealed record WrkLoad(
    HttpMethod Method,
    string Path,
    IReadOnlyList<IReadOnlyDictionary<string, string>> HeaderSets,
    string? Body,
    int ExpectedStatus,
    int Connections,
    int Threads,
    TimeSpan Duration,
    TimeSpan RequestTimeout);
