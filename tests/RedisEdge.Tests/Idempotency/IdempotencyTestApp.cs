using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>Starts fleets of apps with idempotent endpoints, configured the way users write appsettings.json.</summary>
internal static class IdempotencyTestApp
{
    public const string Section = "RedisEdge:Idempotency";

    /// <summary>The subject every request is authenticated as, unless it names another (<see cref="UserHeader"/>) or
    /// asks to stay anonymous (<see cref="AnonymousHeader"/>).</summary>
    public const string DefaultSubject = "test-caller";

    public const string UserHeader = "X-Test-User";

    public const string NameHeader = "X-Test-Name";

    public const string IssuerHeader = "X-Test-Issuer";

    public const string AnonymousHeader = "X-Test-Anonymous";

    public static Task<RedisFleet> StartAsync(
        RedisTestServer redis,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Dictionary<string, string?>? settings = null,
        Action<RedisIdempotencyOptions>? configure = null,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeIdempotency = null,
        bool kestrel = false)
        => StartAsync(redis.Configuration, endpoints, instances, settings, configure, services, beforeIdempotency, kestrel);

    /// <summary>The same over any Redis, such as a private cluster a test damages.</summary>
    public static Task<RedisFleet> StartAsync(
        string redisConfiguration,
        Action<WebApplication, int> endpoints,
        int instances = 1,
        Dictionary<string, string?>? settings = null,
        Action<RedisIdempotencyOptions>? configure = null,
        Action<WebApplicationBuilder, int>? services = null,
        Action<WebApplication, int>? beforeIdempotency = null,
        bool kestrel = false)
    {
        var feature = new FeatureTestApp(
            Section,
            edge => _ = configure is null ? edge.AddIdempotency() : edge.AddIdempotency(configure),
            app => app.UseRedisIdempotency());
        return feature.StartAsync(
            redisConfiguration,
            settings ?? [],
            endpoints,
            instances,
            services,
            beforeFeature: (app, i) =>
            {
                app.Use(AuthenticateAsync);
                beforeIdempotency?.Invoke(app, i);
            },
            kestrel: kestrel);
    }

    /// <summary>
    /// Stands in for an authentication handler, as the apps users write have one: the caller is the subject
    /// (<c>NameIdentifier</c>) named by <see cref="UserHeader"/>, <see cref="DefaultSubject"/> by default, issued by
    /// <see cref="IssuerHeader"/>, with the display name of <see cref="NameHeader"/>.
    /// </summary>
    public static Task AuthenticateAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Request.Headers;
        if (!headers.ContainsKey(AnonymousHeader))
        {
            var issuer = headers[IssuerHeader] is { Count: 1 } i ? i.ToString() : "https://issuer.test";
            var subject = headers[UserHeader] is { Count: 1 } u ? u.ToString() : DefaultSubject;
            var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, subject, ClaimValueTypes.String, issuer) };
            if (headers[NameHeader] is { Count: 1 } name)
            {
                claims.Add(new Claim(ClaimTypes.Name, name.ToString(), ClaimValueTypes.String, issuer));
            }

            context.User = new ClaimsPrincipal(new ClaimsIdentity(claims, "Test"));
        }

        return next(context);
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
