using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionMvcTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Attributes_OnControllerActions_AreHonoured()
    {
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            instances: 1,
            (builder, _) =>
            {
                builder.Services.AddControllers().AddApplicationPart(typeof(SessionMvcTestController).Assembly);
                builder.Services.AddRedisEdge().AddSessions();
            },
            (app, _) =>
            {
                app.UseRedisSessions();
                app.MapControllers();
            });
        var browser = new SessionBrowser();

        using (var anonymous = await browser.SendAsync(fleet[0], HttpMethod.Get, "/mvc-session/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        await browser.PostAsync(fleet[0], "/mvc-session/login/alice");
        Assert.Equal("alice", await browser.GetAsync(fleet[0], "/mvc-session/me"));

        using var scope = fleet[0].Commands.Begin();
        Assert.Equal("none", await browser.GetAsync(fleet[0], "/mvc-session/sessionless"));
        Assert.Empty(scope.Commands);
    }

    [Fact]
    public async Task ControllerAttribute_IsInherited_ActionsAddReadOnly_AndDisableSessionWins()
    {
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            instances: 1,
            (builder, _) =>
            {
                builder.Services.AddControllers().AddApplicationPart(typeof(SessionMvcTestController).Assembly);
                builder.Services.AddRedisEdge().AddSessions();
            },
            (app, _) =>
            {
                app.UseRedisSessions();
                app.MapControllers();
            });
        var browser = new SessionBrowser();

        // [RequireSession] on the controller reaches its actions.
        using (var anonymous = await browser.SendAsync(fleet[0], HttpMethod.Get, "/mvc-session-class/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        // [DisableSession] on an action wins over the controller's [RequireSession]: no 401, no Redis command.
        using (var scope = fleet[0].Commands.Begin())
        {
            Assert.Equal("none", await browser.GetAsync(fleet[0], "/mvc-session-class/health"));
            Assert.Empty(scope.Commands);
        }

        await browser.PostAsync(fleet[0], "/mvc-session/login/bob");

        // The action's [ReadOnlySession] adds to the controller's [RequireSession]: its write is never committed.
        Assert.Equal("bob", await browser.GetAsync(fleet[0], "/mvc-session-class/overwrite/eve"));
        Assert.Equal("bob", await browser.GetAsync(fleet[0], "/mvc-session-class/me"));
    }
}

[ApiController]
[Route("mvc-session-class")]
[RequireSession]
public sealed class SessionRequiredMvcTestController : ControllerBase
{
    [HttpGet("me")]
    public string? Me() => HttpContext.Session.GetString("user");

    [ReadOnlySession]
    [HttpGet("overwrite/{user}")]
    public string? Overwrite(string user)
    {
        var before = HttpContext.Session.GetString("user");
        HttpContext.Session.SetString("user", user);
        return before;
    }

    [DisableSession]
    [HttpGet("health")]
    public string Health()
    {
        try
        {
            _ = HttpContext.Session;
            return "session";
        }
        catch (InvalidOperationException)
        {
            return "none";
        }
    }
}

[ApiController]
[Route("mvc-session")]
public sealed class SessionMvcTestController : ControllerBase
{
    [HttpPost("login/{user}")]
    public string Login(string user)
    {
        HttpContext.Session.SetString("user", user);
        return "ok";
    }

    [RequireSession]
    [HttpGet("me")]
    public string? Me() => HttpContext.Session.GetString("user");

    [DisableSession]
    [HttpGet("sessionless")]
    public string Sessionless()
    {
        try
        {
            _ = HttpContext.Session;
            return "session";
        }
        catch (InvalidOperationException)
        {
            return "none";
        }
    }
}
