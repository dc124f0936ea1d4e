using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// What Core needs to know of a feature's named policies, whatever their shape: which names an endpoint's metadata uses,
/// and whether the current options define a name. The endpoint validator checks endpoints with it at start-up.
/// </summary>
internal abstract class RedisEdgePolicyProvider<TOptions>
    where TOptions : class
{
    /// <summary>The kind of policy, as error messages and logs name it ("rate-limit policy").</summary>
    public abstract string PolicyKind { get; }

    /// <summary>
    /// The policy names <paramref name="endpoint"/>'s metadata uses where the feature applies (nothing where a
    /// <c>Disable…</c> marker turns it off, or where the metadata names no policy).
    /// </summary>
    public abstract IEnumerable<string> PolicyNames(Endpoint endpoint);

    /// <summary>Whether the current options define <paramref name="name"/>.</summary>
    public abstract bool IsDefined(string name);

    /// <summary>
    /// False when the options failed validation at start-up and the policies are those of the options as bound, so the
    /// start-up report can still check endpoints against them (the app does not start with them).
    /// </summary>
    public bool OptionsValid { get; protected init; } = true;
}

/// <summary>
/// Keeps a feature's current <typeparamref name="TSet"/>, rebuilt whenever its options change, and resolves an
/// endpoint's metadata under it once per set. One rule for a policy name that is not defined, in every feature:
/// <list type="bullet">
/// <item>an endpoint known at start-up that names one fails start-up, naming the endpoint and policy
/// (<see cref="RedisEdgeEndpointValidator{TOptions}"/>);</item>
/// <item>a reload that no longer defines a policy such an endpoint names is refused, logged once, and the previous set
/// stays in force (a rename would otherwise silently drop a limit, a cache or an idempotency guarantee);</item>
/// <item>an endpoint that appears later (a dynamic endpoint source) and names an unknown policy is resolved as if the
/// metadata named no policy, logged once per (endpoint, name), never per request.</item>
/// </list>
/// </summary>
internal abstract class RedisEdgePolicyProvider<TOptions, TSet, TResolved> : RedisEdgePolicyProvider<TOptions>, IDisposable
    where TOptions : class
    where TSet : RedisEdgePolicySet<TResolved>
    where TResolved : class
{
    private readonly Func<TOptions, long, TSet> _create;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly IDisposable? _subscription;
    private readonly ConcurrentDictionary<(string? Endpoint, string Policy), bool> _unknownReported = new();
    private volatile TSet _current;
    private long _generation;
    private string? _lastRefusal;

    protected RedisEdgePolicyProvider(IOptionsMonitor<TOptions> monitor, Func<TOptions, long, TSet> create, IServiceProvider services, ILoggerFactory loggerFactory)
    {
        _create = create;
        _services = services;
        _logger = loggerFactory.CreateLogger("RedisEdge.Policies");
        // Invalid options fail start-up in RedisEdgeStartupReport, which checks endpoints against the options as bound.
        _current = create(RedisEdgeOptionsAsBound.Get(monitor, services, out var valid), 0);
        OptionsValid = valid;
        _subscription = monitor.OnChange(OnChange);
    }

    public TSet Current => _current;

    public override bool IsDefined(string name) => _current.Defines(name);

    /// <summary>
    /// What <paramref name="endpoint"/>'s metadata resolves to under <paramref name="set"/>, computed on its first
    /// request under that set and then kept. A name the set does not define counts as no name, and is logged once.
    /// </summary>
    public TResolved? Resolve(Endpoint endpoint, TSet set)
    {
        if (set.TryGetResolved(endpoint, out var resolved))
        {
            return resolved;
        }

        foreach (var name in PolicyNames(endpoint))
        {
            if (!set.Defines(name) && _unknownReported.TryAdd((endpoint.DisplayName, name), true))
            {
                Log.UnknownPolicy(_logger, endpoint.DisplayName, PolicyKind, name);
            }
        }

        resolved = Resolve(set, endpoint);
        set.SetResolved(endpoint, resolved);
        return resolved;
    }

    public void Dispose() => _subscription?.Dispose();

    /// <summary>Resolves <paramref name="endpoint"/>'s metadata under <paramref name="set"/>, skipping names it does not define.</summary>
    protected abstract TResolved? Resolve(TSet set, Endpoint endpoint);

    /// <summary>Called after a reload replaced the current set (to drop what the old one decided, say).</summary>
    protected virtual void OnReplaced(TSet set)
    {
    }

    private void OnChange(TOptions options)
    {
        var next = _create(options, Interlocked.Increment(ref _generation));
        if (Dropped(next) is { Count: > 0 } missing)
        {
            // Logged once per refused configuration, not per change notification (one reload raises several) nor per
            // request: requests keep the policies they had.
            var report = string.Join(", ", missing.Select(m => $"'{m.Policy}' (endpoint '{m.Endpoint}')"));
            if (!string.Equals(Interlocked.Exchange(ref _lastRefusal, report), report, StringComparison.Ordinal))
            {
                Log.ReloadRefused(_logger, PolicyKind, report);
            }

            return;
        }

        Volatile.Write(ref _lastRefusal, null);
        _current = next;
        OnReplaced(next);
    }

    /// <summary>The policies the app's endpoints name that the current set defines and <paramref name="next"/> no longer does.</summary>
    private List<(string? Endpoint, string Policy)> Dropped(TSet next)
    {
        var missing = new List<(string? Endpoint, string Policy)>();
        if (_services.GetService<EndpointDataSource>() is not { } source)
        {
            return missing;
        }

        var current = _current;
        foreach (var endpoint in source.Endpoints)
        {
            foreach (var name in PolicyNames(endpoint))
            {
                if (!next.Defines(name) && current.Defines(name))
                {
                    missing.Add((endpoint.DisplayName, name));
                }
            }
        }

        return missing;
    }
}
