using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RedisEdge.Internal;

/// <summary>
/// The two instruments every feature has, in the shape of <c>aspnetcore.rate_limiting</c>: a
/// <c>redisedge.&lt;feature&gt;.requests</c> counter and a <c>redisedge.&lt;feature&gt;.request.duration</c> histogram, both
/// tagged with the policy and a snake_case <c>result</c>. One measurement of each per request (rate limiting: per
/// deciding policy), taken when the feature has decided what to do with it (before the endpoint runs or the answer is
/// written), so the duration is the time the feature added in front of the endpoint.
/// </summary>
internal sealed class RedisFeatureRequests
{
    private readonly TimeProvider _timeProvider;
    private readonly string? _policyTag;
    private readonly string _resultTag;

    /// <summary>Creates the two instruments on <paramref name="meter"/>; a null <paramref name="policyTag"/> (sessions: no
    /// policies) leaves the policy tag out.</summary>
    public RedisFeatureRequests(Meter meter, TimeProvider timeProvider, string requestsName, string durationName, string? policyTag, string resultTag)
    {
        _timeProvider = timeProvider;
        _policyTag = policyTag;
        _resultTag = resultTag;
        Requests = meter.CreateCounter<long>(requestsName, "{request}", "Requests the feature decided, by policy and result.");
        Duration = meter.CreateHistogram<double>(
            durationName,
            unit: "s",
            description: "Time from the feature's middleware receiving a request to its decision, by policy and result.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
    }

    public Counter<long> Requests { get; }

    public Histogram<double> Duration { get; }

    /// <summary>A timestamp to pass to <see cref="Record"/> when the request is decided.</summary>
    public long Start() => _timeProvider.GetTimestamp();

    public void Record(string? policy, string result, long started)
    {
        if (!Requests.Enabled && !Duration.Enabled)
        {
            return;
        }

        var tags = new TagList { { _resultTag, result } };
        if (_policyTag is not null)
        {
            tags.Add(_policyTag, policy);
        }

        Requests.Add(1, tags);
        if (Duration.Enabled)
        {
            Duration.Record(_timeProvider.GetElapsedTime(started).TotalSeconds, tags);
        }
    }
}
