using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// What every feature does with a request Redis could not decide: read the failure mode from the <b>current</b>
/// options snapshot (so <c>Failure:Mode</c> follows a configuration reload in every feature), count the request once in
/// <c>redisedge.failure_mode.requests</c>, log it at Debug (the breaker logs the outage itself, once per state change),
/// and under <see cref="RedisFailureMode.FailClosed"/> write the one <c>503</c> problem with <c>Retry-After</c>.
/// </summary>
internal sealed class RedisEdgeFailureResponder<TOptions>
    where TOptions : class
{
    private static readonly RedisFailurePolicyOptions Defaults = new();

    private readonly IOptionsMonitor<TOptions> _options;
    private readonly Func<TOptions, RedisFailurePolicyOptions?> _failure;
    private readonly RedisEdgeGuardedFeature _feature;
    private readonly Counter<long> _requests;
    private readonly ILogger _logger;

    public RedisEdgeFailureResponder(
        IOptionsMonitor<TOptions> options,
        IMeterFactory meterFactory,
        ILoggerFactory loggerFactory,
        RedisEdgeGuardedFeature feature,
        Func<TOptions, RedisFailurePolicyOptions?> failure)
    {
        _options = options;
        _failure = failure;
        _feature = feature;
        _requests = meterFactory.Create(feature.MeterName).CreateCounter<long>(
            RedisFeatureTelemetry.FailureModeRequestsName,
            unit: "{request}",
            description: "Requests decided without Redis because it could not answer, by the failure mode applied.");
        _logger = loggerFactory.CreateLogger("RedisEdge.FailureResponder");
    }

    /// <summary>The failure mode of the current options snapshot.</summary>
    public RedisFailureMode Mode => (_failure(_options.CurrentValue) ?? Defaults).Mode;

    /// <summary>Counts and logs (Debug) one request decided under <paramref name="mode"/> because Redis could not answer.</summary>
    public void Record(string? policy, RedisFailureMode mode, Exception exception)
    {
        if (_requests.Enabled)
        {
            _requests.Add(
                1,
                new KeyValuePair<string, object?>(RedisFeatureTelemetry.PolicyTag, policy),
                new KeyValuePair<string, object?>(RedisFeatureTelemetry.FailureModeTag, TagValue(mode)));
        }

        Log.DecidedWithoutRedis(_logger, _feature.Name, policy ?? "(none)", mode, exception);
    }

    /// <summary>
    /// Records the failure under the current mode, then writes the <c>503</c> problem (<see cref="RedisFailureMode.FailClosed"/>)
    /// or calls <paramref name="failOpen"/> (any other mode). The title and detail say what the feature could not do.
    /// </summary>
    public Task RespondAsync(HttpContext context, string? policy, Exception exception, Func<Task> failOpen, string title, string detail, Action<ProblemDetails>? extend = null)
    {
        var mode = Mode;
        Record(policy, mode, exception);
        return mode == RedisFailureMode.FailClosed ? WriteUnavailableAsync(context, exception, title, detail, extend) : failOpen();
    }

    /// <summary>The fail-closed answer: <c>503</c> with <c>Retry-After</c> (the breaker's, or one second) and <c>no-store</c>.</summary>
    public Task WriteUnavailableAsync(HttpContext context, Exception exception, string title, string detail, Action<ProblemDetails>? extend = null)
    {
        var unavailable = exception as RedisEdgeUnavailableException
            ?? new RedisEdgeUnavailableException($"Redis could not answer for {_feature.Name}.", exception, TimeSpan.FromSeconds(1));
        return RedisEdgeProblems.WriteUnavailableAsync(context, unavailable, title, detail, extend);
    }

    private static string TagValue(RedisFailureMode mode) => mode switch
    {
        RedisFailureMode.FailOpen => "fail_open",
        RedisFailureMode.FailClosed => "fail_closed",
        RedisFailureMode.LocalFallback => "local_fallback",
        _ => "unknown",
    };
}
