using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// The one shape of every feature's test app (<c>RateLimitTestApp</c>, <c>IdempotencyTestApp</c>, <c>CacheTestApp</c>,
/// <c>SessionTestApp</c>): a <see cref="RedisFleet"/> whose instances call <c>AddRedisEdge()</c> and add the feature, then
/// the test's services; run the test's middleware, then the feature's, then the endpoints. A feature's test app says
/// only what differs: its section, its <c>Add…</c> and <c>Use…</c> calls, and its own helpers.
/// </summary>
public sealed class FeatureTestApp(string section, Action<IRedisEdgeBuilder> addFeature, Action<WebApplication> useFeature)
{
    /// <summary>
    /// The script budget every feature test app gets unless the test sets its own: a 2-core machine shared with
    /// parallel builds can take longer than the 500 ms production budget for a first call, which would turn an expected
    /// answer into a failure-mode one (a fail-open 200, a fail-closed 503). Outage tests set their own budget.
    /// </summary>
    public const string TestTimeout = "00:00:05";

    /// <summary>The feature's configuration section, such as <c>RedisEdge:RateLimiting</c>.</summary>
    public string Section { get; } = section;

    /// <summary>Starts <paramref name="instances"/> apps over <paramref name="redisConfiguration"/>.</summary>
    /// <param name="settings">Configuration; <c>{Section}:Failure:Timeout</c> is added unless present.</param>
    /// <param name="services">Runs after the feature is added, per instance.</param>
    /// <param name="beforeFeature">Middleware that runs before the feature's, per instance.</param>
    /// <param name="afterFeature">Middleware between the feature's and the endpoints, per instance.</param>
    public Task<RedisFleet> StartAsync(
        string redisConfiguration,
        IDictionary<string, string?> settings,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeFeature = null,
        Action<WebApplication, int>? afterFeature = null,
        bool kestrel = false)
    {
        settings.TryAdd($"{Section}:Failure:Timeout", TestTimeout);
        return RedisFleet.StartAsync(
            redisConfiguration,
            instances,
            (builder, i) =>
            {
                addFeature(builder.Services.AddRedisEdge());
                services?.Invoke(builder, i);
            },
            (app, i) =>
            {
                beforeFeature?.Invoke(app, i);
                useFeature(app);
                afterFeature?.Invoke(app, i);
                endpoints(app, i);
            },
            settings,
            kestrel);
    }
}
