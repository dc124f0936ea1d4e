using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// Attaches a lazy <see cref="RedisSession"/> to each request, commits it at the end, and turns Redis failures into
/// a 503 problem response (FailClosed).
/// </summary>
internal sealed class RedisSessionMiddleware
{
    private readonly RequestDelegate _next;
    private readonly RedisSessionStore _store;
    private readonly ILogger _logger;

    public RedisSessionMiddleware(RequestDelegate next, RedisSessionStore store, ILogger<RedisSessionMiddleware> logger)
    {
        _next = next;
        _store = store;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<SessionlessAttribute>() is not null)
        {
            return _next(context);
        }

        var readOnly = metadata?.GetMetadata<ReadOnlySessionAttribute>() is not null;
        var required = metadata?.GetMetadata<RequireSessionAttribute>() is not null;
        return InvokeWithSessionAsync(context, readOnly, required);
    }

    private async Task InvokeWithSessionAsync(HttpContext context, bool readOnly, bool required)
    {
        var (incomingId, viaHeader) = ReadIncomingId(context.Request);
        var session = new RedisSession(_store, context, incomingId, viaHeader, readOnly, _logger);
        context.Features.Set<ISessionFeature>(new RedisSessionFeature(session));
        context.Response.OnStarting(static state => ((RedisSession)state).OnResponseStartingAsync(), session);
        try
        {
            if (required)
            {
                await session.LoadAsync(context.RequestAborted).ConfigureAwait(false);
                if (session.IsDegraded)
                {
                    throw new RedisEdgeUnavailableException("The endpoint requires a session and Redis is unavailable.");
                }

                if (!session.IsLive)
                {
                    await (_store.Options.OnSessionRequired ?? WriteSessionRequiredAsync)(context).ConfigureAwait(false);
                    return;
                }
            }

            await _next(context).ConfigureAwait(false);
            if (session.Failure is null)
            {
                // Changes not yet committed when the response started (or when it has not started at all).
                await session.CommitAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (RedisEdgeUnavailableException ex)
        {
            // Thrown by the session itself (load/commit) or by IRedisSessionManager calls the endpoint made.
            if (!context.Response.HasStarted)
            {
                Log.SessionUnavailable(_logger, ex);
                await WriteUnavailableAsync(context).ConfigureAwait(false);
            }
            else
            {
                // Changes made after the response started could not be saved; the client must not take the
                // response as a success.
                Log.CommitFailedAfterStart(_logger, ex);
                context.Abort();
            }
        }
        finally
        {
            context.Features.Set<ISessionFeature>(null);
        }
    }

    private (string? Id, bool ViaHeader) ReadIncomingId(HttpRequest request)
    {
        var options = _store.Options;
        if (options.HeaderName is { } header && request.Headers.TryGetValue(header, out var headerValues))
        {
            var value = headerValues.Count == 1 ? headerValues[0] : null;
            return (RedisSessionIds.IsWellFormed(value) ? value : null, true);
        }

        var cookie = request.Cookies[options.Cookie.Name];
        return (RedisSessionIds.IsWellFormed(cookie) ? cookie : null, false);
    }

    private static Task WriteSessionRequiredAsync(HttpContext context)
        => Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "A session is required",
            detail: "This endpoint needs a live session; sign in again.").ExecuteAsync(context);

    private Task WriteUnavailableAsync(HttpContext context)
    {
        context.Response.Clear();
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(_store.Options.Failure.BreakDuration.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers.CacheControl = "no-store";
        return Results.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Session store unavailable",
            detail: "The session could not be read or saved because Redis is unavailable. Retry later.").ExecuteAsync(context);
    }
}
