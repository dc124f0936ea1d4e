namespace RedisEdge.Benchmarks;

/// <summary>
/// One row of the benchmark: an endpoint of <see cref="BenchmarkApp"/> and how wrk calls it. Adding a row is adding
/// one of these to <see cref="Scenarios.All"/> (and the endpoint to the app).
/// </summary>
/// <param name="Name">The row's name in the report.</param>
/// <param name="Path">The endpoint's path on the app.</param>
internal sealed record Scenario(string Name, string Path)
{
    public HttpMethod Method { get; init; } = HttpMethod.Get;

    /// <summary>The status every response must have; any other is counted as unexpected and reported in the row.</summary>
    public int ExpectedStatus { get; init; } = 200;

    /// <summary>wrk connections; <see langword="null"/> = the run's <c>--connections</c>.</summary>
    public int? Connections { get; init; }

    /// <summary>Connections of the warm-up run; <see langword="null"/> = the same as the measured run.</summary>
    public int? WarmupConnections { get; init; }

    /// <summary>
    /// Prepares the requests (logs in, primes a cache, ...) and returns one header set per distinct request, handed
    /// out round-robin by wrk; <see langword="null"/> = one request without extra headers.
    /// </summary>
    public ScenarioSetup? Setup { get; init; }

    /// <summary>Request body, or <see langword="null"/>.</summary>
    public string? Body { get; init; }

    /// <summary>
    /// Runs against a freshly started app, which is replaced again afterwards: for rows that may starve the app's
    /// thread pool, so neither they nor the rows after them inherit another row's threads or backlog.
    /// </summary>
    public bool Isolated { get; init; }

    /// <summary>
    /// Configuration the app is started with for this row (<c>key=value</c> command-line arguments, such as
    /// <c>RedisEdge:RateLimiting:CoalesceHotPartitions=false</c>); consecutive rows with the same arguments share one
    /// app, and the app is restarted whenever they change.
    /// </summary>
    public IReadOnlyList<string> AppArguments { get; init; } = [];

    /// <summary>
    /// Caps redis-server at this much CPU (cores) for the row's warm-up and measured run: a Redis-bound shard (see
    /// <see cref="BenchmarkRedis.TryLimitCpu"/>); <see langword="null"/> = no cap.
    /// </summary>
    public double? RedisCpuCap { get; init; }

    /// <summary>What the row is for in the ratios.</summary>
    public ScenarioRole Role { get; init; } = ScenarioRole.Measured;
}
