using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
        ILogger<RedisResponseCachingMiddleware> logger)
    {
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
        var started = _metrics.Requests.Start();
        var head = HttpMethods.IsHead(context.Request.Method);
        if (BypassReason(context, policy) is { } reason)
        {
            _metrics.Bypass(policy.Name, reason);
            _metrics.Requests.Record(policy.Name, "bypass", started);
            context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = HttpCaching.Forward("bypass", detail: reason);
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

        // HEAD never fills: it produces no body to store.
        var owner = head ? string.Empty : FillOwner.Next();
        var collapsed = false;
        long deadline = 0;
        Task? wake = null;
        try
        {
            await LookupLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            // A registration nobody completed (this request was answered by a poll) must not outlive the wait.
            if (wake is not null)
            {
                _events.Forget(keys.EntryName, wake);
            }
        }

        async Task LookupLoopAsync()
        {
            while (true)
            {
                var version = _near.Snapshot(keys.EntryName);

                // A request that forwards when it gets no lease (HEAD, or its wait is over) needs the stale-if-error copy
                // to fall back on; one that would only wait is not sent it.
                var forwards = head || (deadline != 0 && _timeProvider.GetTimestamp() >= deadline);
                LookupResult lookup;
                try
                {
                    // Shared with this instance's concurrent lookups of the key. The call is not cancelled with the
                    // request: it may hand its sender the fill lease, and a lease nobody knows it holds would make the
                    // fleet wait for it to lapse. A request that only joined it stops waiting when its client leaves.
                    lookup = await _lookups.LookupAsync(keys.Entry, keys.EntryName, owner, set.FillLeaseMs, forwards, context.RequestAborted).ConfigureAwait(false);
                }
                catch (RedisEdgeUnavailableException ex)
                {
                    _metrics.Requests.Record(policy.Name, "redis_unavailable", started);
                    await OnUnavailableAsync(context, set, policy, ex).ConfigureAwait(false);
                    return;
                }
                catch (StackExchange.Redis.RedisException ex)
                {
                    // Redis answered, but not as the script should (a script error, an unexpected reply): not an
                    // outage, and not the client's fault either, so the request is served uncached, never a 500.
                    _store.LookupFailed(policy.Name, ex);
                    _metrics.Bypass(policy.Name, "redis-error");
                    _metrics.Requests.Record(policy.Name, "redis_error", started);
                    context.Response.Headers[RedisResponseCachingDefaults.CacheStatusHeader] = HttpCaching.Forward("bypass", detail: "redis-error");
                    await _next(context).ConfigureAwait(false);
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
                        _metrics.Requests.Record(policy.Name, "hit", started);
                        if (collapsed)
                        {
                            _metrics.Coalesced(policy.Name, "served");
                        }

                        var status = collapsed ? HttpCaching.Forward("uri-miss", collapsed: true) : HttpCaching.Hit(entry!.FreshUntil - lookup.Now);
                        await ServeAsync(context, entry!, lookup.Now, status, head).ConfigureAwait(false);
                        return;

                    case LookupState.StaleWhileRevalidate:
                        _metrics.Stale(policy.Name, "stale-while-revalidate");
                        _metrics.Requests.Record(policy.Name, "stale_while_revalidate", started);
                        if (collapsed)
                        {
                            _metrics.Coalesced(policy.Name, "served");
                        }

                        // The refresh is detached from this request: it neither waits for this response nor holds up
                        // the next request on the connection, and the client leaving does not cancel it.
                        var refresh = lookup.Filler ? DetachedRequest.Copy(context, _scopes, _stopping) : null;
                        try
                        {
                            await ServeAsync(context, entry!, lookup.Now, HttpCaching.Hit(entry!.FreshUntil - lookup.Now, "stale-while-revalidate"), head).ConfigureAwait(false);
                        }
                        finally
                        {
                            if (refresh is not null)
                            {
                                _ = Task.Run(() => RefreshAsync(refresh, policy, keys, owner, set.FillLeaseMs));
                            }
                        }

                        return;

                    case LookupState.FailSafe:
                        // The origin failed moments ago and one request retries it once the marker ends: serve the
                        // stale-if-error copy now instead of sending everyone to a failing origin.
                        _metrics.Stale(policy.Name, "stale-if-error");
                        _metrics.Requests.Record(policy.Name, "stale_if_error", started);
                        await ServeAsync(context, entry!, lookup.Now, HttpCaching.Hit(entry!.FreshUntil - lookup.Now, "stale-if-error"), head).ConfigureAwait(false);
                        return;

                    case LookupState.Pass:
                        _metrics.Miss(policy.Name);
                        _metrics.Requests.Record(policy.Name, "miss", started);
                        await ForwardAsync(context, policy, keys, owner: null, stale, "miss", "pass", collapsed: false).ConfigureAwait(false);
                        return;
                }

                // A miss, or a stale entry only good for stale-if-error.
                var fwd = entry is null ? "uri-miss" : "stale";
                if (lookup.Filler)
                {
                    _metrics.Miss(policy.Name);
                    _metrics.Requests.Record(policy.Name, "miss", started);
                    await FillAsync(context, set, policy, keys, owner, stale, fwd).ConfigureAwait(false);
                    return;
                }

                var now = _timeProvider.GetTimestamp();
                if (deadline == 0)
                {
                    deadline = now + (long)(set.FillWaitTimeout.TotalSeconds * _timeProvider.TimestampFrequency);
                }

                if (head || now >= deadline)
                {
                    if (!forwards && lookup.State == LookupState.StaleIfErrorOnly)
                    {
                        // The wait ran out during a lookup that left out the stale copy: ask again for it.
                        continue;
                    }

                    if (collapsed)
                    {
                        _metrics.Coalesced(policy.Name, "timeout");
                    }

                    _metrics.Miss(policy.Name);
                    _metrics.Requests.Record(policy.Name, "miss", started);
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
    }

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
}
