namespace RedisEdge.Benchmarks;

/// <summary>The figures of one measured run of one scenario (one round).</summary>
/// <param name="Scenario">The row.</param>
/// <param name="Round">1-based round.</param>
/// <param name="Connections">wrk connections of the measured run.</param>
/// <param name="Threads">wrk threads of the measured run.</param>
/// <param name="Wrk">What wrk reported.</param>
/// <param name="RoundTripsPerRequest">Commands the app's multiplexer sent, per response; <see langword="null"/> when the
/// app did not report its counters or nothing was answered.</param>
/// <param name="ScriptCallsPerRequest">Script calls Redis executed, per response.</param>
/// <param name="RedisMicrosecondsPerScriptCall">Redis time per script call (<c>INFO commandstats</c>); <see langword="null"/>
/// without script calls.</param>
/// <param name="RedisCpuMicrosecondsPerRequest">CPU time of redis-server per response (networking included).</param>
/// <param name="AllocatedBytesPerRequest">Bytes the app allocated per response.</param>
/// <param name="AppCores">CPU time of the app divided by the run's duration.</param>
/// <param name="RedisCores">CPU time of redis-server divided by the run's duration.</param>
/// <param name="Note">What went wrong, if anything (app unresponsive and restarted, say).</param>
internal sealed record ScenarioRun(
    Scenario Scenario,
    int Round,
    int Connections,
    int Threads,
    WrkResult Wrk,
    double? RoundTripsPerRequest,
    double? ScriptCallsPerRequest,
    double? RedisMicrosecondsPerScriptCall,
    double? RedisCpuMicrosecondsPerRequest,
    double? AllocatedBytesPerRequest,
    double? AppCores,
    double RedisCores,
    string? Note)
{
    /// <summary>wrk's CPU time divided by the run's duration and its threads: near 100% means wrk was the limit.</summary>
    public double WrkBusy => Wrk.Elapsed > TimeSpan.Zero ? Wrk.Cpu / Wrk.Elapsed / Threads : 0;

    /// <summary>wrk's CPU time per response: what the generator costs the machine for each request.</summary>
    public double? WrkCpuMicrosecondsPerRequest => Wrk.Requests > 0 ? Wrk.Cpu.TotalMicroseconds / Wrk.Requests : null;

    /// <summary>The app's CPU time per response.</summary>
    public double? AppCpuMicrosecondsPerRequest => Wrk.Requests > 0 && AppCores is { } cores ? cores * Wrk.Elapsed.TotalMicroseconds / Wrk.Requests : null;
}
