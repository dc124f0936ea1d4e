using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>Starts fleets of apps with rate-limit policies given as configuration, the way users write appsettings.json.</summary>
internal static class RateLimitTestApp
{
    public const string Section = "RedisEdge:RateLimiting";

    public static Dictionary<string, string?> Policy(
        this Dictionary<string, string?> settings,
        string name,
        RedisRateLimitAlgorithm algorithm,
        int limit,
        TimeSpan? window = null,
        params (string Key, string Value)[] extra)
    {
        var path = $"{Section}:Policies:{name}";
        settings[$"{path}:Algorithm"] = algorithm.ToString();
        settings[$"{path}:PermitLimit"] = limit.ToString(CultureInfo.InvariantCulture);
        settings[$"{path}:Partition"] = "Global";
        if (window is { } w)
        {
            settings[$"{path}:Window"] = w.ToString("c", CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in extra)
        {
            settings[$"{path}:{key}"] = value;
        }

        return settings;
    }

    public static async Task<RedisFleet> StartAsync(
        RedisTestServer redis,
        Dictionary<string, string?> settings,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Action<RedisRateLimitingOptions>? configure = null,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeRateLimiting = null)
    {
        await AvoidHourBoundaryAsync(redis);
        return await StartAsync(redis.Configuration, settings, endpoints, instances, configure, services, beforeRateLimiting);
    }

    /// <summary>The same over any Redis, such as a private <see cref="RedisServerProcess"/> a test pauses or kills.</summary>
    public static Task<RedisFleet> StartAsync(
        string redisConfiguration,
        Dictionary<string, string?> settings,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Action<RedisRateLimitingOptions>? configure = null,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeRateLimiting = null)
    {
        return App(configure).StartAsync(redisConfiguration, settings, endpoints, instances, services, beforeRateLimiting);
    }

    private static FeatureTestApp App(Action<RedisRateLimitingOptions>? configure) =>
        new(Section, edge => _ = configure is null ? edge.AddRateLimiting() : edge.AddRateLimiting(configure), app => app.UseRedisRateLimiting());

    /// <summary>
    /// Tests that count within one aligned one-hour window (fixed window, sliding counter) would see a second window
    /// if they ran across xx:00:00 on the Redis clock. Within a minute of that boundary, start just after it instead.
    /// </summary>
    private static async Task AvoidHourBoundaryAsync(RedisTestServer redis)
    {
        var now = await redis.ServerTimeAsync();
        var untilBoundary = TimeSpan.FromHours(1) - TimeSpan.FromTicks(now.Ticks % TimeSpan.TicksPerHour);
        if (untilBoundary < TimeSpan.FromMinutes(1))
        {
            await Task.Delay(untilBoundary + TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Sends <paramref name="count"/> requests from <paramref name="clients"/> concurrent clients spread over the fleet.</summary>
    public static async Task<List<HttpResponseMessage>> BurstAsync(RedisFleet fleet, string path, int clients, int perClient)
    {
        var responses = new List<HttpResponseMessage>();
        var tasks = Enumerable.Range(0, clients).Select(async c =>
        {
            var mine = new List<HttpResponseMessage>();
            for (var r = 0; r < perClient; r++)
            {
                mine.Add(await fleet[(c + r) % fleet.Count].Client.GetAsync(path));
            }

            return mine;
        });
        foreach (var list in await Task.WhenAll(tasks))
        {
            responses.AddRange(list);
        }

        return responses;
    }
}
