using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Serves and stores the responses of endpoints with <see cref="CacheResponseAttribute"/>: near cache, then one
/// lookup script that also hands out the fill lease, then either the entry, a wait for another request's fill, or
/// the origin (whose response is stored, or replaced by a stale entry when it fails).
/// </summary>
internal sealed class RedisResponseCachingMiddleware
{
    private readonly RequestDelegate _next;
    private readonly ResponseCachePolicyProvider _policies;
    private readonly ResponseCacheKeys _keys;
    private readonly ResponseCacheStore _store;
    private readonly ResponseCacheEvents _events;
    private readonly NearCache _near;
    private readonly ResponseCachingMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public RedisResponseCachingMiddleware(
        RequestDelegate next,
        ResponseCachePolicyProvider policies,
        ResponseCacheKeys keys,
        ResponseCacheStore store,
        ResponseCacheEvents events,
        NearCache near,
        ResponseCachingMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisResponseCachingMiddleware> logger)
    {
        _next = next;
        _policies = policies;
        _keys = keys;
        _store = store;
        _events = events;
        _near = near;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<CacheResponseAttribute>() is not { } attribute ||
            endpoint.Metadata.GetMetadata<DisableCacheResponseAttribute>() is not null)
        {
            return _next(context);
        }

        var method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return _next(context);
        }

        var set = _policies.Current;
        if (!set.Policies.TryGetValue(attribute.PolicyName, out var policy))
        {
            Log.UnknownPolicy(_logger, endpoint.DisplayName, attribute.PolicyName);
            return _next(context);
        }

        return InvokeCachedAsync(context, set, policy);
    }

    private async Task InvokeCachedAsync(HttpContext context, ResponseCachePolicySet set, ResponseCachePolicy policy)
    {
        var head = HttpMethods.IsHead(context.Request.Method);
        if (BypassReason(context, policy) is { } reason)
        {
            _metrics.Bypass(policy.Name, reason);
            context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = HttpCaching.Forward("bypass", detail: reason);
            await _next(context).ConfigureAwait(false);
            return;
        }

        var keys = _keys.ForRequest(context, policy);
        if (policy.NearCache && _near.TryGet(keys.EntryName, out var near, out var nearNow))
        {
            _metrics.NearHit(policy.Name);
            await ServeAsync(context, near, nearNow, HttpCaching.Hit(near.FreshUntil - nearNow, "near"), head).ConfigureAwait(false);
            return;
        }

        // HEAD never fills: it produces no body to store.
        var owner = head ? string.Empty : Guid.NewGuid().ToString("N");
        var collapsed = false;
        long deadline = 0;
        Task? wake = null;
        while (true)
        {
            var version = _near.Snapshot(keys.EntryName);
            LookupResult lookup;
            try
            {
                // Not cancelled with the request: a lookup may hand this request the fill lease, and a lease nobody
                // knows it holds would make the fleet wait FillWaitTimeout and then skip storing until it expires.
                lookup = await _store.LookupAsync(keys.Entry, owner, set.FillLeaseMs, CancellationToken.None).ConfigureAwait(false);
            }
            catch (RedisEdgeUnavailableException ex)
            {
                await OnUnavailableAsync(context, set, policy, ex).ConfigureAwait(false);
                return;
            }

            var entry = lookup.Entry;
            var stale = entry is not null && entry.StaleIfErrorUntil > lookup.Now
                ? new StaleCandidate(entry, lookup.Now, _timeProvider.GetTimestamp())
                : null;
            switch (lookup.State)
            {
                case LookupState.Fresh:
                    if (policy.NearCache)
                    {
                        _near.TryAdd(keys.EntryName, version, entry!, lookup.Now);
                    }

                    _metrics.Hit(policy.Name);
                    if (collapsed)
                    {
                        _metrics.Coalesced(policy.Name, "served");
                    }

                    var status = collapsed ? HttpCaching.Forward("uri-miss", collapsed: true) : HttpCaching.Hit(entry!.FreshUntil - lookup.Now);
                    await ServeAsync(context, entry!, lookup.Now, status, head).ConfigureAwait(false);
                    return;

                case LookupState.StaleWhileRevalidate:
                    _metrics.Stale(policy.Name, "stale-while-revalidate");
                    if (collapsed)
                    {
                        _metrics.Coalesced(policy.Name, "served");
                    }

                    await ServeAsync(context, entry!, lookup.Now, HttpCaching.Hit(entry!.FreshUntil - lookup.Now, "stale-while-revalidate"), head).ConfigureAwait(false);
                    if (lookup.Filler)
                    {
                        await RefreshAsync(context, policy, keys, owner).ConfigureAwait(false);
                    }

                    return;

                case LookupState.Pass:
                    _metrics.Miss(policy.Name);
                    await ForwardAsync(context, policy, keys, owner: null, stale, "miss", "pass", collapsed: false).ConfigureAwait(false);
                    return;
            }

            // A miss, or a stale entry only good for stale-if-error.
            var fwd = entry is null ? "uri-miss" : "stale";
            if (lookup.Filler)
            {
                _metrics.Miss(policy.Name);
                await ForwardAsync(context, policy, keys, owner, stale, fwd, detail: null, collapsed: false).ConfigureAwait(false);
                return;
            }

            var now = _timeProvider.GetTimestamp();
            if (deadline == 0)
            {
                deadline = now + (long)(set.FillWaitTimeout.TotalSeconds * _timeProvider.TimestampFrequency);
            }

            if (head || now >= deadline)
            {
                if (collapsed)
                {
                    _metrics.Coalesced(policy.Name, "timeout");
                }

                if (wake is not null)
                {
                    _events.Forget(keys.EntryName, wake);
                }

                _metrics.Miss(policy.Name);
                await ForwardAsync(context, policy, keys, owner: null, stale, fwd, head ? "head" : "fill-wait-timeout", collapsed: false).ConfigureAwait(false);
                return;
            }

            // Another request in the fleet is filling: wait for its pub/sub message, polling in case it was missed.
            collapsed = true;
            wake ??= _events.WhenChanged(keys.EntryName);
            var left = TimeSpan.FromSeconds((double)(deadline - now) / _timeProvider.TimestampFrequency);
            var wait = left < RedisResponseCachingDefaults.FillWaitPollInterval ? left : RedisResponseCachingDefaults.FillWaitPollInterval;
            try
            {
                await wake.WaitAsync(wait, _timeProvider, context.RequestAborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Poll.
            }

            // Registered before the next lookup, so a message between its answer and the next wait is not missed.
            wake = _events.WhenChanged(keys.EntryName);
        }
    }

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
        try
        {
            await _next(context).ConfigureAwait(false);
            await capture.FlushWriterAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            context.Features.Set(originalBody);
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
        var notStorable = HttpCaching.NotStorableReason(policy, response);
        var etag = notStorable is null ? HttpCaching.ETag(body.Span) : null;
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
            if (status == StatusCodes.Status200OK && HttpCaching.IfNoneMatchMatches(context.Request, etag))
            {
                NotModified(response);
                return;
            }
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
            await _next(context).ConfigureAwait(false);
            await capture.FlushWriterAsync().ConfigureAwait(false);
            var reason = capture.Overflowed ? "too_large" : refresh.StatusCode >= 500 ? "origin_failed" : HttpCaching.NotStorableReason(policy, context.Response) is null ? null : "not_storable";
            if (reason is not null)
            {
                _metrics.Fill(policy.Name, reason);
                await AbandonAsync(policy, keys, owner, policy.PassMs).ConfigureAwait(false);
                return;
            }

            var body = capture.Body;
            var stored = await _store.FillAsync(keys, owner, policy, refresh.StatusCode, HeaderCodec.Serialize(refresh.Headers), body, HttpCaching.ETag(body.Span)).ConfigureAwait(false);
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

    private static async Task ServeAsync(HttpContext context, CachedEntry entry, long serverNow, string cacheStatus, bool head)
    {
        var response = context.Response;
        response.StatusCode = entry.Status;
        var headers = response.Headers;
        foreach (var (name, value) in entry.Headers)
        {
            headers.Append(name, value);
        }

        headers.ETag = entry.ETag;
        headers.Age = HttpCaching.Seconds(Math.Max(0, serverNow - entry.Created));
        headers[RedisResponseCachingDefaults.CacheStatusHeader] = cacheStatus;
        if (entry.Status == StatusCodes.Status200OK && HttpCaching.IfNoneMatchMatches(context.Request, entry.ETag))
        {
            NotModified(response);
            return;
        }

        response.ContentLength = entry.Body.Length;
        if (!head && entry.Body.Length > 0)
        {
            await response.Body.WriteAsync(entry.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static void NotModified(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status304NotModified;
        response.Headers.Remove(HeaderNames.ContentLength);
        response.Headers.Remove(HeaderNames.ContentType);
    }

    private async Task OnUnavailableAsync(HttpContext context, ResponseCachePolicySet set, ResponseCachePolicy policy, RedisEdgeUnavailableException exception)
    {
        _metrics.Bypass(policy.Name, "redis-unavailable");
        if (set.FailureMode == RedisFailureMode.FailClosed)
        {
            Log.RedisFailed(_logger, policy.Name, "refused", exception);
            await RedisEdgeProblems.WriteUnavailableAsync(context, exception, "Service Unavailable", "The response cache cannot reach its store.").ConfigureAwait(false);
            return;
        }

        Log.RedisFailed(_logger, policy.Name, "forwarded to the origin uncached", exception);
        context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = HttpCaching.Forward("bypass", detail: "redis-unavailable");
        await _next(context).ConfigureAwait(false);
    }

    private async Task AbandonAsync(ResponseCachePolicy policy, CacheRequestKeys keys, string owner, long passMs)
    {
        try
        {
            await _store.AbandonAsync(keys.Entry, owner, passMs).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or StackExchange.Redis.RedisException)
        {
            // The lease expires on its own after FillLeaseTimeout.
            Log.AbandonFailed(_logger, policy.Name, ex);
        }
    }

    /// <summary>
    /// Requests with credentials are cached only by policies that vary by user, and only with a user id; anything
    /// else could hand one user's response to another.
    /// </summary>
    private static string? BypassReason(HttpContext context, ResponseCachePolicy policy)
    {
        var credentials = context.Request.Headers.ContainsKey(HeaderNames.Authorization) || context.User?.Identity?.IsAuthenticated == true;
        if (!credentials)
        {
            return null;
        }

        if (!policy.VaryByUser)
        {
            return "authorization";
        }

        return ResponseCacheKeys.UserId(context.User) is null ? "no-user-id" : null;
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
}
