using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace RedisEdge.Benchmarks;

/// <summary>Counts the commands an app's multiplexer sends between <see cref="Start"/> and <see cref="Stop"/>.</summary>
internal sealed class CommandProfiler
{
    private static readonly HashSet<string> Housekeeping = new(StringComparer.OrdinalIgnoreCase) { "PING", "ECHO", "INFO", "CLUSTER", "CLIENT", "CONFIG", "SUBSCRIBE", "HELLO" };
    private ProfilingSession? _session;

    public CommandProfiler(IConnectionMultiplexer multiplexer) => multiplexer.RegisterProfiler(() => Volatile.Read(ref _session));

    public void Start() => Volatile.Write(ref _session, new ProfilingSession());

    public long Stop()
    {
        var session = Interlocked.Exchange(ref _session, null) ?? throw new InvalidOperationException("Not started.");
        return session.FinishProfiling().Count(c => !Housekeeping.Contains(c.Command));
    }
}
