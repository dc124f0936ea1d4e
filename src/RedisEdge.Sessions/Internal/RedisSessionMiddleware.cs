using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.StaticAssets;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// Attaches a <see cref="RedisSession"/> to each request, loads it before the endpoint in eager mode, commits it at
/// the end, and turns Redis failures into a 503 problem response (FailClosed).
/// </summary>
internal sealed class RedisSessionMiddleware
{
    private readonly RequestDelegate _next;
    private readonly RedisSessionPersistence _persistence;
    private readonly RedisSessionOptions _options;
    private readonly ILogger _logger;
    private readonly RedisEdgeFailureResponder<RedisSessionOptions> _failure;

    public RedisSessionMiddleware(RequestDelegate next, RedisSessionPersistence persistence, RedisEdgeFailureResponder<RedisSessionOptions> failure, ILogger<RedisSessionMiddleware> logger)
    {
        _next = next;
        _failure = failure;
        _persistence = persistence;
        _options = persistence.Store.Options;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;

        // A static asset (MapStaticAssets) never uses the session: like [DisableSession], no session, no Redis call.
        if (metadata is not null && (metadata.GetMetadata<DisableSessionAttribute>() is not null || metadata.GetMetadata<StaticAssetDescriptor>() is not null))
        {
            return _next(context);
        }

        var readOnly = metadata?.GetMetadata<ReadOnlySessionAttribute>() is not null;
        var required = metadata?.GetMetadata<RequireSessionAttribute>() is not null;

        // Eager loading only where an endpoint will run: a request that matched none (a 404) keeps a session that
        // loads if something later touches it, but does not pay a load (nor slide the session) for nothing.
        var eager = required || (metadata is not null && _options.LoadMode == RedisSessionLoadMode.Eager);
        return InvokeWithSessionAsync(context, readOnly, required, eager);
    }

    private async Task InvokeWithSessionAsync(HttpContext context, bool readOnly, bool required, bool eager)
    {
        var session = new RedisSession(_persistence, context, RedisSessionTransport.Read(context, _options), readOnly);
        context.Features.Set<ISessionFeature>(new RedisSessionFeature(session));
        context.Response.OnStarting(static state => ((RedisSession)state).OnResponseStartingAsync(), session);
        var body = context.Features.Get<IHttpResponseBodyFeature>();
        if (body is not null && !readOnly)
        {
            context.Features.Set<IHttpResponseBodyFeature>(new RedisSessionResponseBodyFeature(body, session, context));
        }

        try
        {
            if (eager)
            {
                // One asynchronous call before the endpoint, so its synchronous ISession calls never wait on Redis.
                await session.LoadEagerlyAsync(context.RequestAborted).ConfigureAwait(false);
            }

            if (required && !await HasLiveSessionAsync(context, session).ConfigureAwait(false))
            {
                return;
            }

            await _next(context).ConfigureAwait(false);

            // Changes not yet committed when the response started (or when it has not started at all).
            await session.CommitAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (RedisEdgeUnavailableException ex)
        {
            // Thrown by the session itself (load, commit) or by IRedisSessionManager calls the endpoint made. A failed
            // request commits nothing more and sends no new id.
            session.Fail(ex);
            if (body is not null && !readOnly)
            {
                // The problem response goes out through the server's own body, not the gate that refused the endpoint's.
                context.Features.Set(body);
            }

            if (!context.Response.HasStarted)
            {
                _failure.Record(policy: null, RedisFailureMode.FailClosed, ex);
                await _failure.WriteUnavailableAsync(
                    context,
                    ex,
                    "Session store unavailable",
                    "The session could not be read or saved because Redis is unavailable. Retry later.").ConfigureAwait(false);
            }
            else
            {
                // Changes made after the response started could not be saved; the client must not take the
                // response as a success.
                Log.CommitFailedAfterStart(_logger, ex);
                context.Abort();
            }
        }
        catch (RedisSessionLimitExceededException ex)
        {
            // A Set over MaxValueBytes/MaxSessionBytes the endpoint did not handle, or a commit Redis refused because
            // concurrent requests filled the session: client input, so a 4xx; nothing of it was stored.
            session.Fail(ex);
            if (body is not null && !readOnly)
            {
                context.Features.Set(body);
            }

            Log.SessionTooLarge(_logger, ex);
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                context.Response.Headers.CacheControl = "no-store";
                await RedisEdgeProblems.WriteAsync(context, new ProblemDetails
                {
                    Status = StatusCodes.Status413PayloadTooLarge,
                    Title = "Session too large",
                    Detail = "The request would make the session larger than the server allows; nothing of it was stored.",
                }).ConfigureAwait(false);
            }
            else
            {
                context.Abort();
            }
        }
        finally
        {
            context.Features.Set<ISessionFeature>(null);
            if (body is not null && !readOnly)
            {
                context.Features.Set(body);
            }
        }
    }

    /// <summary>For <see cref="RequireSessionAttribute"/>: answers for the endpoint when there is no live session.</summary>
    private async Task<bool> HasLiveSessionAsync(HttpContext context, RedisSession session)
    {
        await session.LoadAsync(context.RequestAborted).ConfigureAwait(false);
        if (session.State == RedisSessionState.Degraded)
        {
            throw new RedisEdgeUnavailableException("The endpoint requires a session and Redis is unavailable.");
        }

        if (session.State == RedisSessionState.Live)
        {
            return true;
        }

        await (_options.OnSessionRequired ?? WriteSessionRequiredAsync)(context).ConfigureAwait(false);
        return false;
    }

    private static Task WriteSessionRequiredAsync(HttpContext context) => RedisEdgeProblems.WriteAsync(context, new ProblemDetails
    {
        Status = StatusCodes.Status401Unauthorized,
        Title = "A session is required",
        Detail = "This endpoint needs a live session; sign in again.",
    });
}
