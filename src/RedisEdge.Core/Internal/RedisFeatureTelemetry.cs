using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RedisEdge.Internal;

/// <summary>
/// The <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/> of one
/// feature (same name, see <see cref="RedisEdgeTelemetryNames"/>), plus the script-call instruments every feature has.
/// </summary>
internal sealed class RedisFeatureTelemetry : IDisposable
{
    public const string ScriptDurationName = "redisedge.script.duration";
    public const string ScriptFailuresName = "redisedge.script.failures";

    /// <summary>Requests decided without Redis, counted by <see cref="RedisEdgeFailureResponder{TOptions}"/>.</summary>
    public const string FailureModeRequestsName = "redisedge.failure_mode.requests";

    /// <summary>The policy a request was decided under, on Core's per-request instruments.</summary>
    public const string PolicyTag = "redisedge.policy";

    /// <summary>The failure mode applied: <c>fail_open</c>, <c>fail_closed</c> or <c>local_fallback</c>.</summary>
    public const string FailureModeTag = "redisedge.failure_mode";

    public RedisFeatureTelemetry(IMeterFactory meterFactory, string name)
    {
        Name = name;
        Meter = meterFactory.Create(name);
        ActivitySource = new ActivitySource(name);
        ScriptDuration = Meter.CreateHistogram<double>(
            ScriptDurationName,
            unit: "s",
            description: "Duration of RedisEdge Lua script calls, including any script re-send after NOSCRIPT.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        ScriptFailures = Meter.CreateCounter<long>(
            ScriptFailuresName,
            unit: "{call}",
            description: "RedisEdge script calls that did not reach a result: timeout, connection failure or open circuit breaker.");
    }

    public string Name { get; }

    public Meter Meter { get; }

    public ActivitySource ActivitySource { get; }

    public Histogram<double> ScriptDuration { get; }

    public Counter<long> ScriptFailures { get; }

    public void Dispose() => ActivitySource.Dispose();
}
