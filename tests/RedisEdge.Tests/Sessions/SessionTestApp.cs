using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticAssets;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>A fleet of apps using RedisEdge sessions, with endpoints that exercise every session path.</summary>
internal static class SessionTestApp
{
    public static Task<RedisFleet> StartAsync(RedisTestServer redis, int instances = 1, IDictionary<string, string?>? settings = null)
        => StartAsync(redis.Configuration, instances, settings);

    /// <summary>The same over any Redis, such as a private <see cref="RedisServerProcess"/> a test pauses or reconfigures.</summary>
    public static Task<RedisFleet> StartAsync(
        string redisConfiguration,
        int instances = 1,
        IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var feature = new FeatureTestApp("RedisEdge:Sessions", edge => edge.AddSessions(), app => app.UseRedisSessions());
        return feature.StartAsync(
            redisConfiguration,
            new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()), // the caller's stays as it was
            (app, _) => MapSessionEndpoints(app),
            instances,
            (builder, _) =>
            {
                configure?.Invoke(builder);
                builder.Services.AddSingleton<TestGate>();
            });
    }

    /// <summary>The sessions middleware and every test endpoint, for apps a test builds itself.</summary>
    public static void MapEndpoints(WebApplication app)
    {
        app.UseRedisSessions();
        MapSessionEndpoints(app);
    }

    private static void MapSessionEndpoints(WebApplication app)
    {
        app.MapGet("/nothing", () => "ok");

        // Carries the metadata MapStaticAssets gives every static asset endpoint.
        app.MapGet("/assets/app.css", () => "body{}").WithMetadata(new StaticAssetDescriptor
        {
            Route = "assets/app.css",
            AssetPath = "app.css",
            Selectors = [],
            Properties = [],
            ResponseHeaders = [],
        });
        app.MapGet("/get/{key}", (HttpContext c, string key) => c.Session.GetString(key) ?? "(null)");
        // Changes the bytes a read handed out: under the near cache they must be the request's own copy.
        app.MapPost("/scribble/{key}", (HttpContext c, string key) =>
        {
            if (c.Session.TryGetValue(key, out var bytes))
            {
                bytes.AsSpan().Fill((byte)'X');
            }

            return "ok";
        });
        app.MapGet("/get-async/{key}", async (HttpContext c, string key) =>
        {
            await c.Session.LoadAsync(c.RequestAborted);
            return c.Session.GetString(key) ?? "(null)";
        });
        app.MapPost("/set/{key}/{value}", (HttpContext c, string key, string value) =>
        {
            c.Session.SetString(key, value);
            return "ok";
        });
        app.MapPost("/remove/{key}", (HttpContext c, string key) =>
        {
            c.Session.Remove(key);
            return "ok";
        });
        app.MapPost("/readonly-set/{key}/{value}", (HttpContext c, string key, string value) =>
        {
            var before = c.Session.GetString(key) ?? "(null)";
            c.Session.SetString(key, value);
            return before;
        }).WithReadOnlySession();
        app.MapGet("/sessionless", (HttpContext c) =>
        {
            try
            {
                _ = c.Session;
                return "session";
            }
            catch (InvalidOperationException)
            {
                return "none";
            }
        }).DisableSession();
        app.MapGet("/me", [RequireSession] (HttpContext c) => c.Session.GetString("user") ?? "(anonymous)");
        app.MapGet("/me-builder", (HttpContext c) => c.Session.GetString("user") ?? "(anonymous)").RequireSession();
        app.MapGet("/id", (HttpContext c) => c.Session.Id);
        app.MapPost("/login/{user}", async (HttpContext c, IRedisSessionManager sessions, string user) =>
        {
            await sessions.RegenerateAsync(c);
            c.Session.SetString("user", user);
            await sessions.BindUserAsync(c, user);
            return c.Session.Id;
        });
        // Binds without regenerating first: the manager must regenerate on its own (fixation-safe).
        app.MapPost("/bind/{user}", async (HttpContext c, IRedisSessionManager sessions, string user) =>
        {
            c.Session.SetString("user", user);
            await sessions.BindUserAsync(c, user);
            return c.Session.Id;
        });
        app.MapPost("/regenerate", async (HttpContext c, IRedisSessionManager sessions) =>
        {
            await sessions.RegenerateAsync(c);
            return c.Session.Id;
        });
        app.MapPost("/logout", async (HttpContext c, IRedisSessionManager sessions) =>
        {
            await sessions.DestroyAsync(c);
            return "bye";
        });
        app.MapPost("/revoke-all/{user}", async (IRedisSessionManager sessions, string user) => (await sessions.RevokeUserSessionsAsync(user)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        app.MapGet("/sessions/{user}", async (IRedisSessionManager sessions, string user) => string.Join(",", (await sessions.ListUserSessionsAsync(user)).Select(s => s.Handle)));
        app.MapPost("/revoke/{user}/{handle}", async (IRedisSessionManager sessions, string user, string handle) =>
            (await sessions.RevokeSessionAsync(user, handle)).ToString());

        // A login that echoes its input as JSON: the body begins (and the response starts) before the end of the request.
        app.MapPost("/login-json/{user}", (HttpContext c, string user) =>
        {
            c.Session.SetString("user", user);
            return Results.Json(new { user });
        });

        // Writes straight to the body stream, the path that starts the response without HttpResponse.StartAsync.
        app.MapPost("/set-then-stream/{key}/{value}", async (HttpContext c, string key, string value) =>
        {
            c.Session.SetString(key, value);
            await c.Response.Body.WriteAsync("ok"u8.ToArray());
        });

        // Writes through the response pipe: GetSpan, Advance, then the flush that starts the response.
        app.MapPost("/set-then-pipe/{key}/{value}", async (HttpContext c, string key, string value) =>
        {
            c.Session.SetString(key, value);
            var writer = c.Response.BodyWriter;
            "ok"u8.CopyTo(writer.GetSpan(2));
            writer.Advance(2);
            await writer.FlushAsync();
        });

        // Starts the response, then tries to write: a new session can no longer reach the client.
        app.MapPost("/set-after-start/{key}/{value}", async (HttpContext c, string key, string value) =>
        {
            await c.Response.WriteAsync("started;");
            try
            {
                c.Session.SetString(key, value);
                await c.Response.WriteAsync("written");
            }
            catch (InvalidOperationException)
            {
                await c.Response.WriteAsync("refused");
            }
        });
        app.MapPost("/gated-set/{key}/{value}", async (HttpContext c, TestGate gate, string key, string value) =>
        {
            await c.Session.LoadAsync(c.RequestAborted);
            gate.SignalLoaded();
            await gate.WaitForReleaseAsync();
            c.Session.SetString(key, value);
            return "ok";
        });
    }

    /// <summary>The Redis key of the session a browser holds.</summary>
    public static string SessionKey(RedisFleet fleet, string sessionId) => $"{fleet.KeyPrefix}:sessions:{{{RedisKeyBuilder.Hash(sessionId)}}}";
}

/// <summary>Holds a request between loading its session and changing it, so tests can interleave requests exactly.</summary>
internal sealed class TestGate
{
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void SignalLoaded() => _loaded.TrySetResult();

    public Task Loaded => _loaded.Task.WaitAsync(TimeSpan.FromSeconds(10));

    public void Release() => _release.TrySetResult();

    public Task WaitForReleaseAsync() => _release.Task.WaitAsync(TimeSpan.FromSeconds(10));
}
