using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The origin side: running the endpoint with its body captured, storing it, refreshing, stale-if-error.</summary>
internal sealed partial class RedisResponseCachingMiddleware
{
    /// <summary>
    /// Runs the origin as the filler: the lease is renewed while it runs, the handler sees a <c>RequestAborted</c> that
    /// only the host's shutdown cancels (a fill whose client has gone still finishes and is stored), and the lease is
    /// always settled: stored, or given back.
    /// </summary>
    private async Task FillAsync(HttpContext context, ResponseCachePolicySet set, ResponseCachePolicy policy, CacheRequestKeys keys, string owner, StaleCandidate? stale, ForwardStatus status)
    {
        var client = context.RequestAborted;
        var lifetime = context.Features.Get<IHttpRequestLifetimeFeature>();
        context.Features.Set<IHttpRequestLifetimeFeature>(new DetachedLifetime(lifetime, _stopping));
        var fill = new FillTicket(owner, set.FillLeaseMs, client);
        try
        {
            await ForwardAsync(context, policy, keys, fill, stale, status).ConfigureAwait(false);
        }
        finally
        {
            context.Features.Set(lifetime);
            if (!fill.Settled)
            {
                await AbandonAsync(policy, keys, owner, 0).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs the origin with the body captured, then stores it (when this request holds the lease in
    /// <paramref name="fill"/>), serves it, or serves <paramref name="stale"/> when the origin failed;
    /// <paramref name="forwarded"/> is the <c>Cache-Status</c> it answers with.</summary>
    private async Task ForwardAsync(HttpContext context, ResponseCachePolicy policy, CacheRequestKeys keys, FillTicket? fill, StaleCandidate? stale, ForwardStatus forwarded)
    {
        // A filler's client leaving does not stop the fill (FillAsync detached it); the client's own token still says
        // whether anyone is there to answer.
        var client = fill?.Client ?? context.RequestAborted;
        var response = context.Response;
        var before = Snapshot(response.Headers);
        var originalBody = context.Features.Get<IHttpResponseBodyFeature>()!;
        var capture = new ResponseCapture(originalBody, policy.MaximumBodySize, () =>
            response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = forwarded.Format(response.StatusCode, detail: "too-large"));
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        var perUser = new PerUserResponseFeature();
        context.Features.Set(perUser);

        // A filler asks the origin for the full 200 whatever this client's conditional or range headers say.
        var conditional = fill is null ? default : ConditionalRequestHeaders.Strip(context.Request.Headers);
        var renewal = fill is null ? null : new FillLease(_store, keys.Entry, fill.Owner, fill.LeaseMs, policy.Name, _timeProvider, _logger);
        try
        {
            try
            {
                await _next(context).ConfigureAwait(false);
                await capture.FlushWriterAsync().ConfigureAwait(false);
            }
            finally
            {
                if (renewal is not null)
                {
                    await renewal.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex)
        {
            context.Features.Set(originalBody);
            conditional.Restore(context.Request.Headers);
            var aborted = client.IsCancellationRequested;
            if (fill is not null)
            {
                _metrics.Fill(policy.Name, "origin_failed");
                fill.Settled = true;
                await AbandonAsync(policy, keys, fill.Owner, aborted ? 0 : policy.PassMs).ConfigureAwait(false);
            }

            if (!aborted && !capture.Overflowed && !response.HasStarted && Usable(stale) is { } usable)
            {
                Log.ServedStaleOnError(_logger, policy.Name, ex);
                await ServeStaleOnErrorAsync(context, policy, usable, before, forwarded.Format(detail: "stale-if-error")).ConfigureAwait(false);
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
            if (fill is not null)
            {
                // A definitive answer too large to store: a stored copy is out of date, so it goes too.
                _metrics.Fill(policy.Name, "too_large");
                fill.Settled = true;
                await AbandonAsync(policy, keys, fill.Owner, policy.PassMs, drop: true).ConfigureAwait(false);
            }

            return;
        }

        if (status >= 500 && !client.IsCancellationRequested && Usable(stale) is { } fallback)
        {
            if (fill is not null)
            {
                // The stale copy is kept, and the pass marker makes the next requests serve it at once (fail-safe).
                _metrics.Fill(policy.Name, "origin_failed");
                fill.Settled = true;
                await AbandonAsync(policy, keys, fill.Owner, policy.PassMs).ConfigureAwait(false);
            }

            Log.ServedStaleOnError(_logger, policy.Name, null);
            await ServeStaleOnErrorAsync(context, policy, fallback, before, forwarded.Format(status, detail: "stale-if-error")).ConfigureAwait(false);
            return;
        }

        var body = capture.Body;
        var definitive = HttpCaching.NotStorableReason(policy, response);
        var notStorable = definitive ?? PerUserReason(context, policy, perUser);
        var etag = notStorable is null ? HttpCaching.OriginETag(response.Headers) ?? HttpCaching.ETag(body.Span) : null;
        var stored = false;
        if (fill is not null)
        {
            if (notStorable is null)
            {
                try
                {
                    var outcome = await _store.FillAsync(keys, fill.Owner, policy, status, HeaderCodec.Serialize(OwnHeaders(response.Headers, before)), body, etag!).ConfigureAwait(false);
                    fill.Settled = true;
                    stored = outcome == FillOutcome.Stored;
                    RecordFill(policy, outcome, body.Length);
                }
                catch (Exception ex) when (ex is RedisEdgeUnavailableException or StackExchange.Redis.RedisException or TimeoutException)
                {
                    _metrics.Fill(policy.Name, "redis_error");
                    Log.FillFailed(_logger, policy.Name, ex);
                }
            }
            else
            {
                // The origin answered definitively (a status that is not stored, no-store, ...): a stale 200 must not
                // outlive that answer, so it is removed with the lease. A 5xx keeps it (stale-if-error), and so does a
                // response that is only this user's (it says nothing about the shared copy).
                _metrics.Fill(policy.Name, "not_storable");
                fill.Settled = true;
                await AbandonAsync(policy, keys, fill.Owner, policy.PassMs, drop: status < 500 && definitive is not null).ConfigureAwait(false);
            }
        }

        response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] =
            forwarded.Format(status, stored, forwarded.Detail ?? (notStorable is null ? null : "not-storable-" + notStorable));
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
                await response.Body.WriteAsync(body, client).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stale-while-revalidate, detached: runs the origin on a copy of the request (<see cref="DetachedRequest"/>) after
    /// the stale response was served, and stores the result. The lease is renewed while the origin runs and always
    /// settled, whatever the origin throws (an <see cref="OperationCanceledException"/> included).
    /// </summary>
    private async Task RefreshAsync(HttpContext context, ResponseCachePolicy policy, CacheRequestKeys keys, string owner, long leaseMs)
    {
        var settled = false;
        try
        {
            var capture = new ResponseCapture(new StreamResponseBodyFeature(Stream.Null), policy.MaximumBodySize, onOverflow: null);
            context.Features.Set<IHttpResponseBodyFeature>(capture);
            var perUser = new PerUserResponseFeature();
            context.Features.Set(perUser);

            // The stale copy already answered this client; the refresh asks the origin for the full 200.
            ConditionalRequestHeaders.Strip(context.Request.Headers);
            var renewal = new FillLease(_store, keys.Entry, owner, leaseMs, policy.Name, _timeProvider, _logger);
            try
            {
                await _next(context).ConfigureAwait(false);
                await capture.FlushWriterAsync().ConfigureAwait(false);
            }
            finally
            {
                await renewal.DisposeAsync().ConfigureAwait(false);
            }

            var response = context.Response;
            var status = response.StatusCode;
            var definitive = HttpCaching.NotStorableReason(policy, response);
            var reason = capture.Overflowed ? "too_large"
                : status >= 500 ? "origin_failed"
                : (definitive ?? PerUserReason(context, policy, perUser)) is null ? null
                : "not_storable";
            if (reason is not null)
            {
                // A definitive answer (anything but a 5xx, or a per-user response) replaces the stale copy: it is
                // removed with the lease.
                _metrics.Fill(policy.Name, reason);
                settled = true;
                await AbandonAsync(policy, keys, owner, policy.PassMs, drop: status < 500 && (definitive is not null || capture.Overflowed)).ConfigureAwait(false);
                return;
            }

            var body = capture.Body;
            var outcome = await _store.FillAsync(keys, owner, policy, status, HeaderCodec.Serialize(response.Headers), body, HttpCaching.OriginETag(response.Headers) ?? HttpCaching.ETag(body.Span)).ConfigureAwait(false);
            settled = true;
            RecordFill(policy, outcome, body.Length);
        }
        catch (Exception ex)
        {
            // Nobody waits for this task: every failure ends here, logged, and the lease is given back.
            Log.RefreshFailed(_logger, policy.Name, ex);
            if (!settled)
            {
                _metrics.Fill(policy.Name, ex is RedisEdgeUnavailableException or StackExchange.Redis.RedisException ? "redis_error" : "origin_failed");
                settled = true;
                await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!settled)
            {
                await AbandonAsync(policy, keys, owner, 0).ConfigureAwait(false);
            }

            if (context.Features.Get<IServiceProvidersFeature>() is IAsyncDisposable services)
            {
                await services.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A response the endpoint built from per-user state (it read or wrote the RedisEdge session) is one user's: it is
    /// stored only by a policy that varies by user, for a request that has a user id, so the key is that user's.
    /// </summary>
    private static string? PerUserReason(HttpContext context, ResponseCachePolicy policy, PerUserResponseFeature perUser) =>
        perUser.Source is { } source && !(policy.VaryByUser && ResponseCacheKeys.UserId(context.User) is not null) ? source : null;

    private void RecordFill(ResponseCachePolicy policy, FillOutcome outcome, long bytes)
    {
        switch (outcome)
        {
            case FillOutcome.Stored:
                _metrics.Fill(policy.Name, "stored");
                _metrics.Stored(policy.Name, bytes);
                break;
            case FillOutcome.Fenced:
                _metrics.Fill(policy.Name, "fenced");
                Log.FillFenced(_logger, policy.Name);
                break;
            default:
                _metrics.Fill(policy.Name, "lease_lost");
                break;
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

    /// <summary>
    /// The lease a filler holds (its owner token and time-to-live), its client's own cancellation (the request's was
    /// detached), and whether the lease was settled (stored, or given back).
    /// </summary>
    private sealed class FillTicket(string owner, long leaseMs, CancellationToken client)
    {
        public string Owner { get; } = owner;

        public long LeaseMs { get; } = leaseMs;

        public CancellationToken Client { get; } = client;

        public bool Settled { get; set; }
    }
}
