using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The origin side: running the endpoint with its body captured, storing it, refreshing, stale-if-error.</summary>
internal sealed partial class RedisResponseCachingMiddleware
{
    /// <summary>Runs the origin with the body captured, then stores it (when this request holds the lease), serves it,
    /// or serves <paramref name="stale"/> when the origin failed.</summary>
    private async Task ForwardAsync(HttpContext context, ResponseCachePolicy policy, CacheRequestKeys keys, string? owner, StaleCandidate? stale, string fwd, string? detail, bool collapsed)
    {
        var response = context.Response;
        var before = Snapshot(response.Headers);
        var originalBody = context.Features.Get<IHttpResponseBodyFeature>()!;
        var capture = new ResponseCapture(originalBody, policy.MaxBodySize, () =>
            response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = HttpCaching.Forward(fwd, response.StatusCode, detail: "too-large"));
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        var perUser = new PerUserResponseFeature();
        context.Features.Set(perUser);

        // A filler asks the origin for the full 200 whatever this client's conditional or range headers say.
        var conditional = owner is null ? default : ConditionalRequestHeaders.Strip(context.Request.Headers);
        try
        {
            await _next(context).ConfigureAwait(false);
            await capture.FlushWriterAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            context.Features.Set(originalBody);
            conditional.Restore(context.Request.Headers);
            var aborted = context.RequestAborted.IsCancellationRequested;
            if (owner is not null)
            {
                _metrics.Fill(policy.Name, "origin_failed");
                await AbandonAsync(policy, keys, owner, aborted ? 0 : policy.PassMs).ConfigureAwait(false);
            }

            if (!aborted && !capture.Overflowed && !response.HasStarted && Usable(stale) is { } usable)
            {
                Log.ServedStaleOnError(_logger, policy.Name, ex);
                await ServeStaleOnErrorAsync(context, policy, usable, before, HttpCaching.Forward(fwd, detail: "stale-if-error")).ConfigureAwait(false);
                return;
            }

            throw;
        }
        finally
        {
            context.Features.Set(originalBody);
            context.Features.Set<PerUserResponseFeature>(null);
            conditional.Restore(context.Request.Headers);
        }

        var status = response.StatusCode;
        if (capture.Overflowed)
        {
            if (owner is not null)
            {
                _metrics.Fill(policy.Name, "too_large");
                await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
            }

            return;
        }

        if (status >= 500 && !context.RequestAborted.IsCancellationRequested && Usable(stale) is { } fallback)
        {
            if (owner is not null)
            {
                _metrics.Fill(policy.Name, "origin_failed");
                await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
            }

            Log.ServedStaleOnError(_logger, policy.Name, null);
            await ServeStaleOnErrorAsync(context, policy, fallback, before, HttpCaching.Forward(fwd, status, detail: "stale-if-error")).ConfigureAwait(false);
            return;
        }

        var body = capture.Body;
        var notStorable = HttpCaching.NotStorableReason(policy, response) ?? PerUserReason(context, policy, perUser);
        var etag = notStorable is null ? HttpCaching.OriginETag(response.Headers) ?? HttpCaching.ETag(body.Span) : null;
        var stored = false;
        if (owner is not null)
        {
            if (notStorable is null)
            {
                try
                {
                    stored = await _store.FillAsync(keys, owner, policy, status, HeaderCodec.Serialize(OwnHeaders(response.Headers, before)), body, etag!).ConfigureAwait(false);
                    _metrics.Fill(policy.Name, stored ? "stored" : "lease_lost");
                    if (stored)
                    {
                        _metrics.Stored(policy.Name, body.Length);
                    }
                }
                catch (RedisEdgeUnavailableException ex)
                {
                    _metrics.Fill(policy.Name, "redis_error");
                    Log.FillFailed(_logger, policy.Name, ex);
                }
            }
            else
            {
                _metrics.Fill(policy.Name, "not_storable");
                await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
            }
        }

        response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] =
            HttpCaching.Forward(fwd, status, stored, collapsed, detail ?? (notStorable is null ? null : "not-storable-" + notStorable));
        if (etag is not null)
        {
            response.Headers.ETag = etag;
        }

        // The client's own conditional answer (its headers were hidden from the origin if this request filled).
        if (status == StatusCodes.Status200OK && HttpCaching.NotModified(context.Request, etag ?? response.Headers.ETag.ToString(), response.Headers.LastModified))
        {
            NotModified(response);
            return;
        }

        if (!HttpMethods.IsHead(context.Request.Method))
        {
            response.ContentLength = body.Length;
            if (body.Length > 0)
            {
                await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stale-while-revalidate, on the request that won the lease: the stale response is completed first (the client
    /// has it), then the origin runs against a private response whose result is stored.
    /// </summary>
    private async Task RefreshAsync(HttpContext context, ResponseCachePolicy policy, CacheRequestKeys keys, string owner)
    {
        var features = context.Features;
        var originalResponse = features.Get<IHttpResponseFeature>()!;
        var originalBody = features.Get<IHttpResponseBodyFeature>()!;
        try
        {
            await context.Response.CompleteAsync().ConfigureAwait(false);
            var refresh = new HttpResponseFeature();
            var capture = new ResponseCapture(new StreamResponseBodyFeature(Stream.Null), policy.MaxBodySize, onOverflow: null);
            features.Set<IHttpResponseFeature>(refresh);
            features.Set<IHttpResponseBodyFeature>(capture);
            var perUser = new PerUserResponseFeature();
            features.Set(perUser);

            // The stale copy already answered this client; the refresh asks the origin for the full 200.
            ConditionalRequestHeaders.Strip(context.Request.Headers);
            await _next(context).ConfigureAwait(false);
            await capture.FlushWriterAsync().ConfigureAwait(false);
            var reason = capture.Overflowed ? "too_large"
                : refresh.StatusCode >= 500 ? "origin_failed"
                : (HttpCaching.NotStorableReason(policy, context.Response) ?? PerUserReason(context, policy, perUser)) is null ? null
                : "not_storable";
            if (reason is not null)
            {
                _metrics.Fill(policy.Name, reason);
                await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
                return;
            }

            var body = capture.Body;
            var stored = await _store.FillAsync(keys, owner, policy, refresh.StatusCode, HeaderCodec.Serialize(refresh.Headers), body, HttpCaching.OriginETag(refresh.Headers) ?? HttpCaching.ETag(body.Span)).ConfigureAwait(false);
            _metrics.Fill(policy.Name, stored ? "stored" : "lease_lost");
            if (stored)
            {
                _metrics.Stored(policy.Name, body.Length);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            // The client already has its response; a failed refresh must not surface as an error of this request.
            Log.RefreshFailed(_logger, policy.Name, ex);
            _metrics.Fill(policy.Name, ex is RedisEdgeUnavailableException ? "redis_error" : "origin_failed");
            await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
        }
        finally
        {
            features.Set(originalResponse);
            features.Set(originalBody);
            features.Set<PerUserResponseFeature>(null);
        }
    }

    private async Task ServeStaleOnErrorAsync(HttpContext context, ResponseCachePolicy policy, (CachedEntry Entry, long Now) stale, List<KeyValuePair<string, StringValues>> before, string cacheStatus)
    {
        var response = context.Response;
        response.Clear();
        foreach (var (name, value) in before)
        {
            response.Headers[name] = value;
        }

        _metrics.Stale(policy.Name, "stale-if-error");
        await ServeAsync(context, stale.Entry, stale.Now, cacheStatus, HttpMethods.IsHead(context.Request.Method)).ConfigureAwait(false);
    }

    private (CachedEntry Entry, long Now)? Usable(StaleCandidate? stale)
    {
        if (stale is null)
        {
            return null;
        }

        var now = stale.ServerNow + (long)_timeProvider.GetElapsedTime(stale.Timestamp).TotalMilliseconds;
        return now < stale.Entry.StaleIfErrorUntil ? (stale.Entry, now) : null;
    }

    /// <summary>
    /// A response the endpoint built from per-user state (it read or wrote the RedisEdge session) is one user's: it is
    /// stored only by a policy that varies by user, for a request that has a user id, so the key is that user's.
    /// </summary>
    private static string? PerUserReason(HttpContext context, ResponseCachePolicy policy, PerUserResponseFeature perUser) =>
        perUser.Source is { } source && !(policy.VaryByUser && ResponseCacheKeys.UserId(context.User) is not null) ? source : null;

    private static List<KeyValuePair<string, StringValues>> Snapshot(IHeaderDictionary headers) => [.. headers];

    /// <summary>The headers the endpoint set: those earlier middleware had already set, unchanged, are not part of the entry.</summary>
    private static HeaderDictionary OwnHeaders(IHeaderDictionary headers, List<KeyValuePair<string, StringValues>> before)
    {
        var own = new HeaderDictionary();
        foreach (var (name, value) in headers)
        {
            if (!before.Exists(b => string.Equals(b.Key, name, StringComparison.OrdinalIgnoreCase) && b.Value == value))
            {
                own[name] = value;
            }
        }

        return own;
    }

    /// <summary>A stale entry that may replace a failed origin response, with the server clock when it was read.</summary>
    private sealed record StaleCandidate(CachedEntry Entry, long ServerNow, long Timestamp);
}
