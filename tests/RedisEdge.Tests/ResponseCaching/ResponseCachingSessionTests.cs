using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>RedisEdge sessions and response caching in one app: a response built from the session is one user's.</summary>
public abstract class ResponseCachingSessionTests(RedisTestServer redis)
{
    [Fact]
    public async Task SessionPresentButUntouched_IsStored_EagerLoadDoesNotCount()
    {
        await using var fleet = await StartAsync();
        var cookie = await SignInAsync(fleet, "alice");

        var first = await SendAsync(fleet, "/shared/plain", cookie, user: null);
        var second = await SendAsync(fleet, "/shared/plain", cookie: null, user: null);
        Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", second.CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VaryByUser_StoresASessionBuiltResponse_ForThatUserOnly_NeverForAnonymousRequests()
    {
        await using var fleet = await StartAsync();
        var cookie = await SignInAsync(fleet, "alice's cart");

        var alice = await SendAsync(fleet, "/per-user/greet", cookie, user: "alice");
        Assert.Equal("hello alice's cart", await alice.BodyAsync());
        Assert.Contains("stored", alice.CacheStatus(), StringComparison.Ordinal);
        var aliceAgain = await SendAsync(fleet, "/per-user/greet", cookie: null, user: "alice");
        Assert.StartsWith("RedisEdge; hit", aliceAgain.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("hello alice's cart", await aliceAgain.BodyAsync());

        var bob = await SendAsync(fleet, "/per-user/greet", cookie: null, user: "bob");
        Assert.Equal("hello guest", await bob.BodyAsync());

        // Anonymous requests share the key without a user id: a session-built response is not stored for them.
        var anonymous = await SendAsync(fleet, "/per-user/greet", cookie, user: null);
        Assert.Equal("hello alice's cart", await anonymous.BodyAsync());
        Assert.Contains("detail=not-storable-session", anonymous.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("hello guest", await (await SendAsync(fleet, "/per-user/greet", cookie: null, user: null)).BodyAsync());
    }

    private Task<RedisFleet> StartAsync()
    {
        var settings = new Dictionary<string, string?>().Policy("shared").Policy("per-user", ("VaryByUser", "true"));
        settings["RedisEdge:Sessions:Failure:Timeout"] = "00:00:05";
        settings[$"{CacheTestApp.Section}:Failure:Timeout"] = "00:00:05";
        return RedisFleet.StartAsync(
            redis,
            1,
            (builder, _) =>
            {
                builder.Services.AddRedisEdge().AddSessions().AddResponseCaching();
                builder.Services.AddAuthentication("Test").AddScheme<AuthenticationSchemeOptions, TestAuthHandler>("Test", null);
            },
            (app, _) =>
            {
                app.UseAuthentication();
                app.UseRedisSessions();
                app.UseRedisResponseCaching();
                app.MapPost("/sign-in/{name}", (HttpContext context, string name) =>
                {
                    context.Session.SetString("user", name);
                    return "ok";
                });
                app.MapGet("/shared/plain", () => "plain " + Guid.NewGuid().ToString("N")).CacheResponse("shared");
                app.MapGet("/per-user/greet", (HttpContext context) => "hello " + (context.Session.GetString("user") ?? "guest")).CacheResponse("per-user");
            },
            settings);
    }

    private static async Task<string> SignInAsync(RedisFleet fleet, string name)
    {
        var response = await fleet[0].Client.PostAsync("/sign-in/" + Uri.EscapeDataString(name), null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(RedisSessionDefaults.CookieName + "=", StringComparison.Ordinal));
        return setCookie.Split(';', 2)[0];
    }

    private static async Task<HttpResponseMessage> SendAsync(RedisFleet fleet, string path, string? cookie, string? user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }

        if (user is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Test " + user);
        }

        var response = await fleet[0].Client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingSessionTestsOnSingleNode(RedisServerFixture redis) : ResponseCachingSessionTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCachingSessionTestsOnCluster(RedisClusterFixture redis) : ResponseCachingSessionTests(redis);
