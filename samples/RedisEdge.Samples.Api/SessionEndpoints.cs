using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http.HttpResults;
using RedisEdge.Sessions;

namespace RedisEdge.Samples.Api;

/// <summary>
/// Distributed sessions: log in, read the profile, fill a cart, log out (here or everywhere). Run two copies of the
/// sample on different ports against the same Redis and the session follows the cookie from one to the other.
/// </summary>
internal static class SessionEndpoints
{
    private const int MaxUserNameLength = 256;

    public static void MapSessionEndpoints(this WebApplication app)
    {
        var session = app.MapGroup("/session");

        // Regenerate at login (no fixation), remember the user, bind the session to the user so it can be listed
        // and revoked.
        session.MapPost("/login", async (HttpContext context, IRedisSessionManager sessions, string? user) =>
        {
            if (!IsValidUserName(user, out var problem))
            {
                return problem;
            }

            await sessions.RegenerateAsync(context, context.RequestAborted);
            context.Session.SetString("user", user);
            context.Session.SetInt32("logins", (context.Session.GetInt32("logins") ?? 0) + 1);
            await sessions.BindUserAsync(context, user, context.RequestAborted);
            return Results.Ok(new { user, session = context.Session.Id });
        });

        session.MapGet("/profile", [RequireSession] async (HttpContext context, IRedisSessionManager sessions) =>
        {
            await context.Session.LoadAsync(context.RequestAborted);
            var user = context.Session.GetString("user");
            var devices = user is null ? [] : await sessions.ListUserSessionsAsync(user, context.RequestAborted);
            return Results.Ok(new
            {
                user,
                session = context.Session.Id,
                cart = Cart(context.Session),
                sessions = devices.Select(d => new { d.Handle, d.CreatedAt, d.IdleExpiresAt, d.AbsoluteExpiresAt }),
            });
        });

        // Read-only: never writes the session (one Redis call, made by the middleware before the endpoint runs, so the
        // synchronous reads below never block a thread on Redis).
        session.MapGet("/cart", (HttpContext context) => Results.Ok(Cart(context.Session))).WithReadOnlySession();

        // Each item is its own session key, so two tabs adding items at once both keep theirs.
        session.MapPost("/cart/{item}", (HttpContext context, string item, int? quantity) =>
        {
            var key = "cart:" + item;
            context.Session.SetInt32(key, (context.Session.GetInt32(key) ?? 0) + (quantity ?? 1));
            return Results.Ok(Cart(context.Session));
        });

        session.MapDelete("/cart/{item}", (HttpContext context, string item) =>
        {
            context.Session.Remove("cart:" + item);
            return Results.Ok(Cart(context.Session));
        });

        session.MapPost("/logout", async (HttpContext context, IRedisSessionManager sessions) =>
        {
            await sessions.DestroyAsync(context, context.RequestAborted);
            return Results.NoContent();
        });

        session.MapPost("/logout-everywhere", [RequireSession] async (HttpContext context, IRedisSessionManager sessions) =>
        {
            var user = context.Session.GetString("user");
            var revoked = user is null ? 0 : await sessions.RevokeUserSessionsAsync(user, cancellationToken: context.RequestAborted);
            return Results.Ok(new { revoked });
        });

        // Never loads a session, whatever the cookie says: zero Redis calls.
        session.MapGet("/ping", () => Results.Text("pong")).DisableSession();
    }

    /// <summary>Refuses (400 problem) a user name that is empty, longer than 256 characters or has control characters.</summary>
    private static bool IsValidUserName([NotNullWhen(true)] string? user, [NotNullWhen(false)] out ValidationProblem? problem)
    {
        var error = user switch
        {
            null or "" => "A user name is required.",
            { Length: > MaxUserNameLength } => $"A user name has at most {MaxUserNameLength} characters.",
            _ when user.Any(char.IsControl) => "A user name must not contain control characters.",
            _ when string.IsNullOrWhiteSpace(user) => "A user name must not be only white space.",
            _ => null,
        };
        problem = error is null ? null : TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["user"] = [error] });
        return error is null;
    }

    private static Dictionary<string, int> Cart(ISession session) =>
        session.Keys
            .Where(k => k.StartsWith("cart:", StringComparison.Ordinal))
            .ToDictionary(k => k["cart:".Length..], k => session.GetInt32(k) ?? 0);
}
