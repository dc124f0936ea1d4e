using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// Fleets of apps with response-cache policies given as configuration, one shared <see cref="Origin"/> whose
/// executions the tests count, and a test authentication scheme (<c>Authorization: Test &lt;user&gt;</c>).
/// </summary>
internal static class CacheTestApp
{
    public const string Section = "RedisEdge:ResponseCaching";

    public static Dictionary<string, string?> Policy(this Dictionary<string, string?> settings, string name, params (string Key, string Value)[] values)
    {
        foreach (var (key, value) in values)
        {
            settings[$"{Section}:Policies:{name}:{key}"] = value;
        }

        settings.TryAdd($"{Section}:Policies:{name}:Expire", "00:05:00");
        return settings;
    }

    public static async Task<RedisFleet> StartAsync(
        RedisTestServer redis,
        Origin origin,
        Dictionary<string, string?> settings,
        int instances = 1,
        bool nearCache = false,
        Action<WebApplication, int>? beforeCaching = null,
        Action<WebApplicationBuilder>? services = null,
        Action<WebApplication>? afterCaching = null,
        ListLogger? logger = null)
        => await StartAsync(redis.Configuration, origin, settings, instances, nearCache, beforeCaching, services, afterCaching, logger);

    public static async Task<RedisFleet> StartAsync(
        string redisConfiguration,
        Origin origin,
        Dictionary<string, string?> settings,
        int instances = 1,
        bool nearCache = false,
        Action<WebApplication, int>? beforeCaching = null,
        Action<WebApplicationBuilder>? services = null,
        Action<WebApplication>? afterCaching = null,
        ListLogger? logger = null)
    {
        settings.TryAdd($"{Section}:FillWaitTimeout", "00:00:30");
        settings[$"{Section}:NearCache:Enabled"] = nearCache ? "true" : "false";
        if (!settings.Keys.Any(k => k.StartsWith($"{Section}:Policies:items:", StringComparison.Ordinal)))
        {
            settings.Policy("items", ("Tags:0", "items"), ("Tags:1", "item:{id}"));
        }

        settings.Policy("per-user", ("VaryByUser", "true"));
        var feature = new FeatureTestApp(Section, edge => edge.AddResponseCaching(), app => app.UseRedisResponseCaching());
        return await feature.StartAsync(
            redisConfiguration,
            settings,
            (app, _) => origin.Map(app),
            instances,
            (builder, _) =>
            {
                if (logger is not null)
                {
                    builder.Logging.AddProvider(logger);
                }

                builder.Services.AddAuthentication("Test").AddScheme<AuthenticationSchemeOptions, TestAuthHandler>("Test", null);
                services?.Invoke(builder);
            },
            beforeFeature: (app, i) =>
            {
                app.UseAuthentication();
                beforeCaching?.Invoke(app, i);
            },
            afterFeature: afterCaching is null ? null : (app, _) => afterCaching(app));
    }

    /// <summary>
    /// Adds policies tagged like <c>items</c> (<c>items</c>, <c>item:{id}</c>) whose keys live on every primary of
    /// <paramref name="redis"/>, one policy per primary: <c>items</c> first, then the first of <c>items-1</c>,
    /// <c>items-2</c>, ... that lands on a primary not yet covered (a policy's keys share its slot). On one node that is
    /// <c>items</c> alone; on the cluster, a tag or URL eviction over them spans every shard. Map their endpoints with
    /// <see cref="Origin.MapPolicies"/>.
    /// </summary>
    public static List<string> PoliciesOnEveryPrimary(this Dictionary<string, string?> settings, RedisTestServer redis)
    {
        var names = new List<string>();
        var primaries = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; primaries.Count < redis.Primaries.Count; i++)
        {
            var name = i == 0 ? "items" : "items-" + i.ToString(CultureInfo.InvariantCulture);
            var slotKey = (RedisKey)("{" + RedisEdge.Internal.RedisKeyBuilder.Hash("policy\n" + name) + "}");
            if (primaries.Add(redis.PrimaryOf(slotKey)))
            {
                names.Add(name);
                settings.Policy(name, ("Tags:0", "items"), ("Tags:1", "item:{id}"));
            }
        }

        return names;
    }

    /// <summary>The primary that serves <paramref name="key"/>'s slot (the only one on a single node).</summary>
    public static string PrimaryOf(this RedisTestServer redis, RedisKey key) =>
        redis.Admin.GetServer(key).EndPoint.ToString()!;

    /// <summary>A client that sends each request to the next instance of <paramref name="fleet"/> in turn, as a round-robin
    /// balancer would.</summary>
    public static HttpClient Balancer(this RedisFleet fleet) =>
        new(new RoundRobin([.. fleet.Instances.Select(i => new HttpMessageInvoker(i.App.GetTestServer().CreateHandler()))]))
        {
            BaseAddress = new Uri("http://localhost/"),
        };

    public static NearCache Near(this RedisFleetInstance instance) => instance.Services.GetRequiredService<NearCache>();

    public static IRedisResponseCache Cache(this RedisFleetInstance instance) => instance.Services.GetRequiredService<IRedisResponseCache>();

    public static string CacheStatus(this HttpResponseMessage response) =>
        response.Headers.TryGetValues(RedisResponseCachingDefaults.CacheStatusHeader, out var values) ? string.Join(", ", values) : string.Empty;

    /// <summary>The entry keys (<c>:e:</c>) of a fleet, from Redis.</summary>
    public static async Task<List<string>> EntryKeysAsync(this RedisTestServer redis, RedisFleet fleet) =>
        (await redis.KeysAsync(fleet.KeyPrefix + ":rc:")).Where(k => k.Contains("}:e:", StringComparison.Ordinal)).ToList();

    /// <summary>Moves an entry's timeline <paramref name="by"/> into the past, as if it had been stored that much earlier.</summary>
    public static async Task AgeAsync(this RedisTestServer redis, string entryKey, TimeSpan by)
    {
        const string script = """
            for _, f in ipairs({ 'c', 'f', 'w', 'x' }) do
              local v = tonumber(redis.call('HGET', KEYS[1], f))
              if v then redis.call('HSET', KEYS[1], f, v - tonumber(ARGV[1])) end
            end
            return redis.call('HEXISTS', KEYS[1], 's')
            """;
        var found = (long)await redis.Database.ScriptEvaluateAsync(script, [(RedisKey)entryKey], [(long)by.TotalMilliseconds]);
        Assert.Equal(1, found);
    }

    /// <summary>Moves the scores of every tag and resource set of a fleet into the past, as if their entries had expired.</summary>
    public static async Task ExpireSetScoresAsync(this RedisTestServer redis, RedisFleet fleet)
    {
        const string script = """
            for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do redis.call('ZADD', KEYS[1], 'XX', 1, m) end
            return 1
            """;
        foreach (var key in await redis.KeysAsync(fleet.KeyPrefix + ":rc:"))
        {
            if (await redis.Database.KeyTypeAsync(key) == RedisType.SortedSet)
            {
                await redis.Database.ScriptEvaluateAsync(script, [(RedisKey)key]);
            }
        }
    }

    /// <summary>Ends a pass or fail-safe marker on an entry, as if its interval had passed.</summary>
    public static async Task EndMarkerAsync(this RedisTestServer redis, string entryKey)
    {
        const string script = "if redis.call('HEXISTS', KEYS[1], 'p') == 1 then redis.call('HSET', KEYS[1], 'p', 0) end return 1";
        await redis.Database.ScriptEvaluateAsync(script, [(RedisKey)entryKey]);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (bounded); for states that arrive asynchronously (pub/sub).</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "Timed out waiting until " + what);
    }

    public static async Task<string> BodyAsync(this HttpResponseMessage response) => await response.Content.ReadAsStringAsync();
}

/// <summary>
/// The origin every instance of a test fleet calls: counts executions, can be held on a gate, made to fail, or made
/// to set a cookie. Its body is <c>id=..;render=N;user=..</c>, N new for every execution.
/// </summary>
internal sealed class Origin
{
    private int _executions;
    private int _started;

    /// <summary>The <c>Last-Modified</c> of <c>/file/{id}</c>.</summary>
    public static readonly DateTimeOffset FileLastModified = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public int Executions => Volatile.Read(ref _executions);

    /// <summary>Executions that have started (before any gate).</summary>
    public int Started => Volatile.Read(ref _started);

    /// <summary>When set, each execution waits for it after being counted as started.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>0 = answer 200; a status code = answer it; -1 = throw; -2 = throw <see cref="OperationCanceledException"/>.</summary>
    public int Failure { get; set; }

    /// <summary>When set, answers carry <c>Cache-Control: no-store</c>.</summary>
    public bool NoStore { get; set; }

    public void Map(WebApplication app)
    {
        app.MapGet("/items/{id}", (HttpContext context, string id) => HandleAsync(context, id)).CacheResponse("items");
        app.MapGet("/user/{id}", (HttpContext context, string id) => HandleAsync(context, id)).CacheResponse("per-user");
        app.MapGet("/cookie/{id}", (HttpContext context, string id) =>
        {
            context.Response.Cookies.Append("c", "1");
            return HandleAsync(context, id);
        }).CacheResponse("items");
        app.MapGet("/no-store/{id}", (HttpContext context, string id) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return HandleAsync(context, id);
        }).CacheResponse("items");
        app.MapGet("/big/{id}", async (HttpContext context, string id) =>
        {
            Interlocked.Increment(ref _started);
            Interlocked.Increment(ref _executions);
            await context.Response.WriteAsync(new string('x', 64 * 1024));
        }).CacheResponse("items");
        app.MapMethods("/both/{id}", [HttpMethods.Get, HttpMethods.Head], (HttpContext context, string id) => HandleAsync(context, id)).CacheResponse("items");
        app.MapGet("/lang/{id}", (HttpContext context, string id) =>
        {
            // Content negotiation by the origin, declared with Vary.
            context.Response.Headers.Vary = "Accept-Language";
            var french = context.Request.Headers.AcceptLanguage.ToString().StartsWith("fr", StringComparison.OrdinalIgnoreCase);
            Interlocked.Increment(ref _executions);
            return Results.Text((french ? "bonjour " : "hello ") + id);
        }).CacheResponse("items");
        app.MapGet("/etag/{id}", (HttpContext context, string id) =>
        {
            context.Response.Headers.ETag = "\"origin-" + id + "\"";
            return HandleAsync(context, id);
        }).CacheResponse("items");
        app.MapGet("/file/{id}", (string id) =>
        {
            // Evaluates If-None-Match, If-Modified-Since and Range itself (304, 206), as static files and Results.File do.
            Interlocked.Increment(ref _executions);
            return Results.Bytes(
                System.Text.Encoding.UTF8.GetBytes("0123456789-" + id),
                "text/plain",
                lastModified: FileLastModified,
                entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue("\"file-" + id + "\""),
                enableRangeProcessing: true);
        }).CacheResponse("items");
        app.MapGet("/own-header/{id}", (HttpContext context, string id) =>
        {
            context.Response.Headers["X-Owner"] = "endpoint";
            return HandleAsync(context, id);
        }).CacheResponse("items");
        app.MapGet("/scheme/{id}", (HttpContext context, string id) =>
        {
            Interlocked.Increment(ref _executions);
            return Results.Text($"{context.Request.Scheme}://{context.Request.Host}/scheme/{id}");
        }).CacheResponse("items");
        app.MapGet("/disabled/{id}", (HttpContext context, string id) => HandleAsync(context, id)).CacheResponse("items").DisableResponseCaching();
    }

    /// <summary>Maps <c>/{policy}/{id}</c> under each of <paramref name="policies"/> (<c>items</c> is mapped already).</summary>
    public void MapPolicies(WebApplication app, IEnumerable<string> policies)
    {
        foreach (var policy in policies.Where(p => p != "items"))
        {
            app.MapGet("/" + policy + "/{id}", (HttpContext context, string id) => HandleAsync(context, id)).CacheResponse(policy);
        }
    }

    private async Task<IResult> HandleAsync(HttpContext context, string id)
    {
        Interlocked.Increment(ref _started);
        if (Gate is { } gate)
        {
            // As a real handler would: a request whose client has gone sees RequestAborted.
            await gate.Task.WaitAsync(context.RequestAborted);
        }

        var render = Interlocked.Increment(ref _executions);
        if (Failure == -1)
        {
            throw new InvalidOperationException("The origin is down.");
        }

        if (Failure == -2)
        {
            throw new OperationCanceledException("The origin gave up.");
        }

        if (Failure > 0)
        {
            return Results.StatusCode(Failure);
        }

        if (NoStore)
        {
            context.Response.Headers.CacheControl = "no-store";
        }

        var user = context.User.Identity?.Name ?? "anonymous";
        return Results.Text(string.Create(CultureInfo.InvariantCulture, $"id={id};render={render};user={user}"));
    }
}

internal sealed class RoundRobin(HttpMessageInvoker[] instances) : HttpMessageHandler
{
    private int _next = -1;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        instances[(int)((uint)Interlocked.Increment(ref _next) % (uint)instances.Length)].SendAsync(request, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var instance in instances)
            {
                instance.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}

/// <summary><c>Authorization: Test &lt;user&gt;</c> authenticates as that user; anything else is anonymous.</summary>
internal sealed class TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Test ", StringComparison.Ordinal))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var user = header["Test ".Length..];
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user), new Claim(ClaimTypes.NameIdentifier, user)], "Test");
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), "Test")));
    }
}
