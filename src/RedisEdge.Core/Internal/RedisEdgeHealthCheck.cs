using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Reports whether Redis answers <c>PING</c> within the health-check timeout, and how fast. It bypasses the
/// features' circuit breakers so it sees recovery as soon as Redis is back.
/// </summary>
internal sealed class RedisEdgeHealthCheck(RedisEdgeConnection connection, IOptions<RedisEdgeOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var redis = options.Value.Redis;
        try
        {
            var latency = await connection.Database.PingAsync().WaitAsync(redis.HealthCheckTimeout, cancellationToken).ConfigureAwait(false);
            var data = new Dictionary<string, object> { ["latency_ms"] = latency.TotalMilliseconds };
            return latency > redis.HealthCheckDegradedLatency
                ? HealthCheckResult.Degraded($"Redis answered PING in {latency.TotalMilliseconds:F1} ms.", data: data)
                : HealthCheckResult.Healthy($"Redis answered PING in {latency.TotalMilliseconds:F1} ms.", data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Redis did not answer PING.", ex);
        }
    }
}
