using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// Records the commands one application instance's multiplexer sends while a scope is open
/// (StackExchange.Redis profiling), so a test can assert how many Redis round trips a request cost.
/// </summary>
public sealed class RedisCommandCounter
{
    // Connection housekeeping the multiplexer may send on its own timer, unrelated to any request.
    private static readonly HashSet<string> Housekeeping = new(StringComparer.OrdinalIgnoreCase)
    {
        "PING", "ECHO", "INFO", "CLUSTER", "CLIENT", "CONFIG", "SUBSCRIBE", "UNSUBSCRIBE", "HELLO", "AUTH", "SELECT", "ROLE", "SENTINEL",
    };

    private ProfilingSession? _current;

    public RedisCommandCounter(IConnectionMultiplexer multiplexer)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        multiplexer.RegisterProfiler(() => Volatile.Read(ref _current));
    }

    /// <summary>Starts recording; dispose the scope or read <see cref="Scope.Commands"/> to stop.</summary>
    public Scope Begin()
    {
        var session = new ProfilingSession();
        if (Interlocked.CompareExchange(ref _current, session, null) is not null)
        {
            throw new InvalidOperationException("A command-counting scope is already open on this instance.");
        }

        return new Scope(this, session);
    }

    public sealed class Scope : IDisposable
    {
        private readonly RedisCommandCounter _owner;
        private readonly ProfilingSession _session;
        private IReadOnlyList<string>? _commands;

        internal Scope(RedisCommandCounter owner, ProfilingSession session)
        {
            _owner = owner;
            _session = session;
        }

        /// <summary>
        /// The data commands sent while the scope was open (housekeeping such as PING excluded), in order; a script call
        /// is <c>EVAL</c> whether it went as EVAL or EVALSHA.
        /// </summary>
        public IReadOnlyList<string> Commands
        {
            get
            {
                Stop();
                return _commands!;
            }
        }

        public void Dispose() => Stop();

        private void Stop()
        {
            if (_commands is not null)
            {
                return;
            }

            Interlocked.CompareExchange(ref _owner._current, null, _session);
            _commands = _session.FinishProfiling()
                .OrderBy(c => c.CommandCreated)
                .Select(c => c.Command)
                .Where(c => !Housekeeping.Contains(c))

                // One script call either way: whether the client sends the text (EVAL) or the SHA (EVALSHA) depends on
                // what it knows the server holds, not on the request, so both count as EVAL.
                .Select(c => string.Equals(c, "EVALSHA", StringComparison.OrdinalIgnoreCase) ? "EVAL" : c)
                .ToList();
        }
    }
}
