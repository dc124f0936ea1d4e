using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Reports whether Redis answers <c>PING</c> within the health-check timeout, and how fast. It bypasses the
/// features' circuit breakers so it sees recovery as soon as Redis is back.
/// </summary>
/// <remarks>
/// Probes repeat every few seconds, so RedisEdge logs only their changes of state (<c>HealthProbeFailed</c>,
/// <c>HealthProbeRecovered</c>), and an expected outage (unreachable, timed out, a server state such as LOADING)
/// is reported by its message alone: its stack trace says nothing an operator can use.
/// </remarks>
internal sealed class RedisEdgeHealthCheck(
    RedisEdgeConnection connection,
    IOptions<RedisEdgeOptions> options,
    RedisEdgeHealthCheck.ProbeStates states,
    ILogger<RedisEdgeHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var redis = options.Value.Redis;
        var name = context.Registration.Name;
        try
        {
            var latency = await connection.Database.PingAsync().WaitAsync(redis.HealthCheckTimeout, cancellationToken).ConfigureAwait(false);
            if (states.Answered(name))
            {
                Log.HealthProbeRecovered(logger, name);
            }

            var data = new Dictionary<string, object> { ["latency_ms"] = latency.TotalMilliseconds };
            return latency > redis.HealthCheckDegradedLatency
                ? HealthCheckResult.Degraded($"Redis answered PING in {latency.TotalMilliseconds:F1} ms.", data: data)
                : HealthCheckResult.Healthy($"Redis answered PING in {latency.TotalMilliseconds:F1} ms.", data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var expected = RedisErrorClassifier.Classify(ex) == RedisFailureKind.Outage;
            var reason = $"{ex.GetType().Name}: {ex.Message}";
            if (states.Failed(name))
            {
                Log.HealthProbeFailed(logger, name, reason, expected ? null : ex);
            }

            return new HealthCheckResult(context.Registration.FailureStatus, $"Redis did not answer PING ({reason}).", expected ? null : ex);
        }
    }

    /// <summary>Whether each registration's last probe failed; the checks themselves are created per probe.</summary>
    internal sealed class ProbeStates
    {
        private readonly ConcurrentDictionary<string, bool> _failing = new(StringComparer.Ordinal);

        /// <summary>Records a failed probe; true when the previous one (if any) had been answered.</summary>
        public bool Failed(string name)
        {
            while (true)
            {
                if (_failing.TryGetValue(name, out var was))
                {
                    if (was)
                    {
                        return false;
                    }

                    if (_failing.TryUpdate(name, true, false))
                    {
                        return true;
                    }
                }
                else if (_failing.TryAdd(name, true))
                {
                    return true;
                }
            }
        }

        /// <summary>Records an answered probe; true when the previous one had failed.</summary>
        public bool Answered(string name) => _failing.TryUpdate(name, false, true);
    }
}
