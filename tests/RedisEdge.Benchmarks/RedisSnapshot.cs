namespace RedisEdge.Benchmarks;

/// <summary>Server-side counters of the benchmark's Redis at one moment.</summary>
/// <param name="ScriptCalls"><c>EVALSHA</c> and <c>EVAL</c> calls so far.</param>
/// <param name="ScriptMicroseconds">Time Redis spent in those calls, including the commands they ran.</param>
/// <param name="Cpu">CPU time of the redis-server process (user + system), networking included.</param>
internal sealed record RedisSnapshot(long ScriptCalls, long ScriptMicroseconds, TimeSpan Cpu);
