using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
internal sealed partial class RedisResponseCachingMiddleware
{
    private readonly RequestDelegate _next;
    private readonly ResponseCachePolicyProvider _policies;
    private readonly ResponseCacheKeys _keys;
    private readonly ResponseCacheStore _store;
    private readonly LookupCoalescer _lookups;
    private readonly ResponseCacheEvents _events;
    private readonly NearCache _near;
    private readonly ResponseCachingMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly IServiceScopeFactory _scopes;
    private readonly CancellationToken _stopping;
    private readonly ILogger _logger;
    private readonly RedisEdgeFailureResponder<RedisResponseCachingOptions> _failure;

    public RedisResponseCachingMiddleware(
        RequestDelegate next,
        ResponseCachePolicyProvider policies,
        ResponseCacheKeys keys,
        ResponseCacheStore store,
        LookupCoalescer lookups,
        ResponseCacheEvents events,
        NearCache near,
        ResponseCachingMetrics metrics,
        TimeProvider timeProvider,
        IServiceScopeFactory scopes,
        IHostApplicationLifetime lifetime,
        ILogger<RedisResponseCachingMiddleware> logger,
        RedisEdgeFailureResponder<RedisResponseCachingOptions> failure)
    {
        _failure = failure;
        _next = next;
        _policies = policies;
        _keys = keys;
        _store = store;
        _lookups = lookups;
        _events = events;
        _near = near;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _scopes = scopes;
        _stopping = lifetime.ApplicationStopping;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<CacheResponseAttribute>() is not { } attribute ||
            endpoint.Metadata.GetMetadata<DisableResponseCachingAttribute>() is not null)
        {
            return _next(context);
        }

        var method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return _next(context);
        }

        var set = _policies.Current;
        if (_policies.Resolve(endpoint, set) is not { } policy)
        {
            return _next(context);
        }

        if (attribute.Duration > 0)
        {
            policy = policy.WithDuration(attribute.Duration);
        }

        return InvokeCachedAsync(context, set, policy);
    }

    /// <summary>
    /// The cached path of one request: bypass, near cache, then lookups until the request is answered (a hit, a stale
    /// copy, its own fill, or a forward) or waits for another request's fill and looks up again. One method, so a hit
    /// costs one state machine and no closure; each answer is a named step below.
    /// </summary>
    private async Task InvokeCachedAsync(HttpContext context, ResponseCachePolicySet set, ResponseCachePolicy policy)
    {
        var started = _metrics.Requests.Start();
        var head = HttpMethods.IsHead(context.Request.Method);
        if (BypassReason(context, policy) is { } reason)
        {
            _metrics.Bypass(policy.Name, reason);
            _metrics.Requests.Record(policy.Name, "bypass", started);
            context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = new ForwardStatus(ForwardReason.Bypass, reason).Format();
            await _next(context).ConfigureAwait(false);
            return;
        }

        var keys = _keys.ForRequest(context, policy);
        if (policy.NearCache && _near.TryGet(keys.EntryName, out var near, out var nearNow))
        {
            _metrics.NearHit(policy.Name);
            _metrics.Requests.Record(policy.Name, "near_hit", started);
            await ServeAsync(context, near, nearNow, HttpCaching.Hit(near.FreshUntil - nearNow, "near"), head).ConfigureAwait(false);
            return;
        }

        // HEAD never fills: it produces no body to store. The lease token is made when this request first sends a lookup
        // (one that joins another's gets no lease), and kept for its later lookups: a lease it holds is its own.
        string? owner = head ? string.Empty : null;
        var wait = new FillWait(_timeProvider, set.FillWaitTimeout);
        try
        {
            while (true)
            {
                var version = _near.Snapshot(keys.EntryName);

                // A request that forwards when it gets no lease (HEAD, or its wait is over) needs the stale-if-error copy
                // to fall back on; one that would only wait is not sent it.
                var forwards = head || wait.IsOver;
                LookupResult lookup;
                try
                {
                    // Shared with this instance's concurrent lookups of the key. The call is not cancelled with the
                    // request: it may hand its sender the fill lease, and a lease nobody knows it holds would make the
                    // fleet wait for it to lapse. A request that joined it waits as the sender does, at most the failure
                    // policy's Timeout: a wait cut short by the client leaving would cost every joined hit a cancellation
                    // registration and a task.
                    // The request that sends it awaits it here, in this state machine, and then answers the joiners.
                    if (_lookups.Join(keys, canFill: !head, forwards, out var flight) is { } joined)
                    {
                        lookup = await joined.ConfigureAwait(false);
                    }
                    else
                    {
                        try
                        {
                            owner ??= FillOwner.Next();
                            var reply = await _store.SendLookupAsync(keys.LookupKeys, owner, set.FillLeaseMs, forwards, CancellationToken.None).ConfigureAwait(false);
                            lookup = _store.ReadLookup(reply, keys.Entry)
                                ?? await _store.LookupAsMissAsync(keys.LookupKeys, owner, set.FillLeaseMs, forwards, CancellationToken.None).ConfigureAwait(false);
                        }
                        catch (Exception ex)
                        {
                            flight.Fail(ex);
                            throw;
                        }

                        flight.Complete(lookup);
                    }
                }
                catch (Exception ex) when (ex is RedisEdgeUnavailableException or StackExchange.Redis.RedisException)
                {
                    await OnLookupFailedAsync(context, policy, ex, started).ConfigureAwait(false);
                    return;
                }

                switch (lookup.State)
                {
                    case LookupState.Fresh:
                        _metrics.Requests.Record(policy.Name, "hit", started);
                        await ServeFreshAsync(context, policy, keys, version, lookup, wait.Collapsed, head).ConfigureAwait(false);
                        return;
                    case LookupState.StaleWhileRevalidate:
                        _metrics.Requests.Record(policy.Name, "stale_while_revalidate", started);
                        await ServeWhileRevalidatingAsync(context, set, policy, keys, owner ?? string.Empty, lookup, wait.Collapsed, head).ConfigureAwait(false);
                        return;
                    case LookupState.FailSafe:
                        _metrics.Requests.Record(policy.Name, "stale_if_error", started);
                        await ServeFailSafeAsync(context, policy, lookup, head).ConfigureAwait(false);
                        return;
                    case LookupState.Pass:
                        _metrics.Miss(policy.Name);
                        _metrics.Requests.Record(policy.Name, "miss", started);
                        await ForwardAsync(context, policy, keys, fill: null, Stale(lookup), new ForwardStatus(ForwardReason.Miss, "pass")).ConfigureAwait(false);
                        return;
                }

                // A miss, or a stale entry only good for stale-if-error: fill it, wait for another request's fill, or
                // forward once the wait is over.
                var missing = ForwardStatus.Missing(stored: lookup.Entry is not null);
                if (lookup.Filler)
                {
                    _metrics.Miss(policy.Name);
                    _metrics.Requests.Record(policy.Name, "miss", started);
                    await FillAsync(context, set, policy, keys, owner!, Stale(lookup), missing).ConfigureAwait(false);
                    return;
                }

                var pause = wait.Next();
                if (head || pause is null)
                {
                    if (!forwards && lookup.State == LookupState.StaleIfErrorOnly)
                    {
                        // The wait ran out during a lookup that left out the stale copy: ask again for it.
                        continue;
                    }

                    _metrics.Requests.Record(policy.Name, "miss", started);
                    await ForwardAfterWaitAsync(context, policy, keys, lookup, missing, wait.Collapsed, head).ConfigureAwait(false);
                    return;
                }

                // Another request in the fleet is filling: wait for its pub/sub message, polling in case it was missed.
                try
                {
                    await wait.Wake(_events, keys.EntryName).WaitAsync(pause.Value, _timeProvider, context.RequestAborted).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Poll.
                }

                wait.Rearm(_events, keys.EntryName);
            }
        }
        finally
        {
            wait.Forget(_events, keys.EntryName);
        }
    }

    /// <summary>A lookup that failed: an outage (fail open or closed), or an error that is not one (served uncached).</summary>
    private Task OnLookupFailedAsync(HttpContext context, ResponseCachePolicy policy, Exception exception, long started)
    {
        if (exception is RedisEdgeUnavailableException unavailable)
        {
            _metrics.Requests.Record(policy.Name, "redis_unavailable", started);
            return OnUnavailableAsync(context, policy, unavailable);
        }

        // Redis answered, but not as the script should (a script error, an unexpected reply): not an outage, and not the
        // client's fault either, so the request is served uncached, never a 500.
        _store.LookupFailed(policy.Name, exception);
        _metrics.Bypass(policy.Name, "redis-error");
        _metrics.Requests.Record(policy.Name, "redis_error", started);
        context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = new ForwardStatus(ForwardReason.Bypass, "redis-error").Format();
        return _next(context);
    }

    /// <summary>A fresh entry: kept in the near cache (if the key was not invalidated since the lookup began) and served.</summary>
    private Task ServeFreshAsync(HttpContext context, ResponseCachePolicy policy, CacheRequestKeys keys, NearCacheFence.Token version, LookupResult lookup, bool collapsed, bool head)
    {
        var entry = lookup.Entry!;
        if (policy.NearCache)
        {
            _near.TryAdd(keys.EntryName, version, entry, lookup.Now);
        }

        _metrics.Hit(policy.Name);
        if (collapsed)
        {
            _metrics.Coalesced(policy.Name, "served");
        }

        var status = collapsed ? new ForwardStatus(ForwardReason.UriMiss, Collapsed: true).Format() : HttpCaching.Hit(entry.FreshUntil - lookup.Now);
        return ServeAsync(context, entry, lookup.Now, status, head);
    }

    /// <summary>
    /// A stale entry within stale-while-revalidate: served now, and refreshed by this request if the lookup handed it
    /// the lease. The refresh is detached from this request: it neither waits for this response nor holds up the next
    /// request on the connection, and the client leaving does not cancel it.
    /// </summary>
    private async Task ServeWhileRevalidatingAsync(HttpContext context, ResponseCachePolicySet set, ResponseCachePolicy policy, CacheRequestKeys keys, string owner, LookupResult lookup, bool collapsed, bool head)
    {
        _metrics.Stale(policy.Name, "stale-while-revalidate");
        if (collapsed)
        {
            _metrics.Coalesced(policy.Name, "served");
        }

        var entry = lookup.Entry!;
        var refresh = lookup.Filler ? DetachedRequest.Copy(context, _scopes, _stopping) : null;
        try
        {
            await ServeAsync(context, entry, lookup.Now, HttpCaching.Hit(entry.FreshUntil - lookup.Now, "stale-while-revalidate"), head).ConfigureAwait(false);
        }
        finally
        {
            if (refresh is not null)
            {
                _ = Task.Run(() => RefreshAsync(refresh, policy, keys, owner, set.FillLeaseMs));
            }
        }
    }

    /// <summary>
    /// The origin failed moments ago and one request retries it once the pass marker ends: the stale-if-error copy is
    /// served now instead of sending everyone to a failing origin.
    /// </summary>
    private Task ServeFailSafeAsync(HttpContext context, ResponseCachePolicy policy, LookupResult lookup, bool head)
    {
        _metrics.Stale(policy.Name, "stale-if-error");
        var entry = lookup.Entry!;
        return ServeAsync(context, entry, lookup.Now, HttpCaching.Hit(entry.FreshUntil - lookup.Now, "stale-if-error"), head);
    }

    /// <summary>No lease, and no more waiting (HEAD, or <c>FillWaitTimeout</c> ran out): the origin, uncached.</summary>
    private Task ForwardAfterWaitAsync(HttpContext context, ResponseCachePolicy policy, CacheRequestKeys keys, LookupResult lookup, ForwardStatus missing, bool collapsed, bool head)
    {
        if (collapsed)
        {
            _metrics.Coalesced(policy.Name, "timeout");
        }

        _metrics.Miss(policy.Name);
        return ForwardAsync(context, policy, keys, fill: null, Stale(lookup), missing.WithDetail(head ? "head" : "fill-wait-timeout"));
    }

    /// <summary>The looked-up entry as a fallback for a failing origin, if it is still within stale-if-error.</summary>
    private StaleCandidate? Stale(LookupResult lookup) =>
        lookup.Entry is { } entry && entry.StaleIfErrorUntil > lookup.Now ? new StaleCandidate(entry, lookup.Now, _timeProvider.GetTimestamp()) : null;

    private static async Task ServeAsync(HttpContext context, CachedEntry entry, long serverNow, string cacheStatus, bool head)
    {
        var response = context.Response;
        response.StatusCode = entry.Status;
        // Set, not Append: a header an earlier middleware set is replaced by the stored one, as the endpoint replaced it
        // on the miss. Only a name stored more than once (Link, say) is appended after its first value.
        var headers = response.Headers;
        var stored = entry.Headers;
        for (var i = 0; i < stored.Count; i++)
        {
            var (name, value) = stored[i];
            if (SeenBefore(stored, i, name))
            {
                headers.Append(name, value);
            }
            else
            {
                headers[name] = value;
            }
        }

        headers.ETag = entry.ETag;
        headers.Age = HttpCaching.Seconds(Math.Max(0, serverNow - entry.Created));
        headers[RedisResponseCachingDefaults.CacheStatusHeader] = cacheStatus;
        if (entry.Status == StatusCodes.Status200OK && HttpCaching.NotModified(context.Request, entry.ETag, LastModified(context.Request, entry)))
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

    private static bool SeenBefore(IReadOnlyList<KeyValuePair<string, string>> headers, int index, string name)
    {
        for (var i = 0; i < index; i++)
        {
            if (string.Equals(headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The entry's <c>Last-Modified</c>, looked up only for a request that can use it.</summary>
    private static string? LastModified(HttpRequest request, CachedEntry entry)
    {
        if (request.Headers.IfModifiedSince.Count == 0 || request.Headers.IfNoneMatch.Count > 0)
        {
            return null;
        }

        foreach (var (name, value) in entry.Headers)
        {
            if (string.Equals(name, HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    private static void NotModified(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status304NotModified;
        response.Headers.Remove(HeaderNames.ContentLength);
        response.Headers.Remove(HeaderNames.ContentType);
    }

    private Task OnUnavailableAsync(HttpContext context, ResponseCachePolicy policy, RedisEdgeUnavailableException exception)
    {
        _metrics.Bypass(policy.Name, "redis-unavailable");
        return _failure.RespondAsync(
            context,
            policy.Name,
            exception,
            () =>
            {
                context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = new ForwardStatus(ForwardReason.Bypass, "redis-unavailable").Format();
                return _next(context);
            },
            "Service Unavailable",
            "The response cache cannot reach its store.");
    }

    private async Task AbandonAsync(ResponseCachePolicy policy, CacheRequestKeys keys, string owner, long passMs, bool drop = false)
    {
        try
        {
            await _store.AbandonAsync(keys.Entry, owner, passMs, drop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or StackExchange.Redis.RedisException or TimeoutException)
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
        // The user through its feature: HttpContext.User makes (and stores) an empty principal when nobody set one, an
        // allocation per request for a question whose answer is then known.
        var user = context.Features.Get<IHttpAuthenticationFeature>()?.User;
        var credentials = context.Request.Headers.ContainsKey(HeaderNames.Authorization) || user?.Identity?.IsAuthenticated == true;
        if (!credentials)
        {
            return null;
        }

        if (!policy.VaryByUser)
        {
            return "authorization";
        }

        return ResponseCacheKeys.UserId(user) is null ? "no-user-id" : null;
    }
}
