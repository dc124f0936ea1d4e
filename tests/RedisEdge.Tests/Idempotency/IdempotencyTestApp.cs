using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>Starts fleets of apps with idempotent endpoints, configured the way users write appsettings.json.</summary>
internal static class IdempotencyTestApp
{
    public const string Section = "RedisEdge:Idempotency";

    public static Task<RedisFleet> StartAsync(
        RedisTestServer redis,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Dictionary<string, string?>? settings = null,
        Action<RedisIdempotencyOptions>? configure = null,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeIdempotency = null)
        => StartAsync(redis.Configuration, endpoints, instances, settings, configure, services, beforeIdempotency);

    /// <summary>The same over any Redis, such as a private cluster a test damages.</summary>
    public static Task<RedisFleet> StartAsync(
        string redisConfiguration,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Dictionary<string, string?>? settings = null,
        Action<RedisIdempotencyOptions>? configure = null,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeIdempotency = null)
    {
        settings ??= [];

        // A 2-core machine shared with parallel builds can take longer than the 500 ms production budget for a first
        // call; outage tests set their own budget.
        settings.TryAdd($"{Section}:Failure:Timeout", "00:00:05");
        return RedisFleet.StartAsync(
            redisConfiguration,
            instances,
            (builder, i) =>
            {
                var edge = builder.Services.AddRedisEdge();
                if (configure is null)
                {
                    edge.AddIdempotency();
                }
                else
                {
                    edge.AddIdempotency(configure);
                }

                services?.Invoke(builder, i);
            },
            (app, i) =>
            {
                beforeIdempotency?.Invoke(app, i);
                app.UseRedisIdempotency();
                endpoints(app, i);
            },
            settings);
    }

    /// <summary>A POST with a JSON body and, when given, an <c>Idempotency-Key</c> and an <c>X-Api-Key</c>.</summary>
    public static HttpRequestMessage Post(string path, string? key, string body = """{"item":"book","quantity":1}""", string? apiKey = null, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        }

        if (apiKey is not null)
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }

        return request;
    }

    public static async Task<HttpResponseMessage> PostAsync(this RedisFleetInstance instance, string path, string? key, string body = """{"item":"book","quantity":1}""", string? apiKey = null)
    {
        using var request = Post(path, key, body, apiKey);
        return await instance.Client.SendAsync(request);
    }

    public static bool IsReplay(this HttpResponseMessage response) =>
        response.Headers.TryGetValues(RedisIdempotencyDefaults.ReplayedHeader, out var values) && values.Single() == "true";

    /// <summary>Redis keys of the fleet's idempotency records.</summary>
    public static Task<List<string>> RecordKeysAsync(this RedisTestServer redis, RedisFleet fleet) =>
        redis.KeysAsync(fleet.KeyPrefix + ":" + RedisIdempotencyDefaults.KeyFeature + ":");
}
