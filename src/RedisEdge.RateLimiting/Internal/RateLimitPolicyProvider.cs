using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// Keeps the current <see cref="RateLimitPolicySet"/>, rebuilt whenever the options change, unless the change would
/// silently lift a limit: a reload that no longer defines a policy an endpoint names is refused, and the previous set
/// stays in force.
/// </summary>
internal sealed class RateLimitPolicyProvider : IDisposable
{
    private readonly LocalDenyCache _denyCache;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly IDisposable? _subscription;
    private volatile RateLimitPolicySet _current;
    private long _generation;
    private string? _lastRefusal;

    public RateLimitPolicyProvider(IOptionsMonitor<RedisRateLimitingOptions> monitor, LocalDenyCache denyCache, IServiceProvider services, ILogger<RateLimitPolicyProvider> logger)
    {
        _denyCache = denyCache;
        _services = services;
        _logger = logger;
        _current = new RateLimitPolicySet(monitor.CurrentValue);
        _subscription = monitor.OnChange(OnChange);
    }

    public RateLimitPolicySet Current => _current;

    public void Dispose() => _subscription?.Dispose();

    private void OnChange(RedisRateLimitingOptions options)
    {
        if (Unprotected(options) is { Count: > 0 } missing)
        {
            // Logged once per refused configuration, not per change notification (one reload raises several) nor per
            // request: requests keep the limits they had.
            var report = string.Join(", ", missing.Select(m => $"'{m.Policy}' (endpoint '{m.Endpoint}')"));
            if (!string.Equals(Interlocked.Exchange(ref _lastRefusal, report), report, StringComparison.Ordinal))
            {
                Log.ReloadRefused(_logger, report);
            }

            return;
        }

        Volatile.Write(ref _lastRefusal, null);

        // A remembered rejection was computed with the old limits; it may no longer hold. Requests still being
        // evaluated under the old set would add such entries after the clear: the generation makes them inert.
        _current = new RateLimitPolicySet(options, Interlocked.Increment(ref _generation));
        _denyCache.Clear();
    }

    /// <summary>The policies the app's endpoints name (where rate limiting is not disabled) that <paramref name="options"/> no longer defines.</summary>
    private List<(string? Endpoint, string Policy)> Unprotected(RedisRateLimitingOptions options)
    {
        var missing = new List<(string? Endpoint, string Policy)>();
        if (_services.GetService<EndpointDataSource>() is not { } source)
        {
            return missing;
        }

        var firstParty = _services.GetRequiredService<FirstPartyRateLimiting>();
        foreach (var endpoint in source.Endpoints)
        {
            if (RateLimitDeclarations.IsDisabled(endpoint.Metadata))
            {
                continue;
            }

            foreach (var (policy, _) in RateLimitDeclarations.Of(endpoint.Metadata, firstParty, _current.Policies.ContainsKey))
            {
                if (!options.Policies.Keys.Contains(policy, StringComparer.OrdinalIgnoreCase) &&
                    _current.Policies.ContainsKey(policy))
                {
                    missing.Add((endpoint.DisplayName, policy));
                }
            }
        }

        return missing;
    }
}
