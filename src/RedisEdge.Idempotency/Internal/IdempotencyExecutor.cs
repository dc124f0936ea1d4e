using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Runs the handler of a request that holds the claim: captures its response while it streams to the caller, renews the
/// lease while it runs, then stores the response (one call) or releases the key so the retry executes.
/// </summary>
internal sealed class IdempotencyExecutor(IdempotencyStore store, IdempotencyMetrics metrics, TimeProvider timeProvider, ILogger<IdempotencyExecutor> logger)
{
    private readonly IdempotencyStore _store = store;
    private readonly IdempotencyMetrics _metrics = metrics;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;

    public async Task ExecuteAsync(HttpContext context, RequestDelegate next, IdempotencyPolicySet set, IdempotencyPolicy policy, RedisKey key, string owner)
    {
        IdempotencyMetrics.Add(_metrics.Executions, policy.Name);
        var originalBody = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var aborted = context.RequestAborted;
        var capture = new ResponseCaptureStream(originalBody.Stream, context.Response, policy.Stored, policy.MaxBodySize, aborted);
        var shim = new StreamResponseBodyFeature(capture, originalBody);
        context.Features.Set<IHttpResponseBodyFeature>(shim);

        // The client that timed out is the one about to retry: once the key is claimed, the handler runs to completion
        // (a payment that started must not stop half-way because the caller hung up) and its response is stored for
        // that retry. Without this, a result executor would throw on the aborted token after the side effect happened,
        // and the released key would let the retry pay twice.
        context.RequestAborted = CancellationToken.None;
        var renewal = new LeaseRenewal(_store, key, owner, policy, _timeProvider, _logger);
        try
        {
            try
            {
                await next(context).ConfigureAwait(false);

                // Pushes whatever the endpoint left in the body writer through the capture.
                await shim.CompleteAsync().ConfigureAwait(false);
            }
            finally
            {
                context.RequestAborted = aborted;
                context.Features.Set(originalBody);
                await renewal.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            // The side effect may not have happened: free the key so the retry runs again.
            await ReleaseAsync(key, owner, policy, "exception").ConfigureAwait(false);
            await capture.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        try
        {
            await StoreAsync(context, set, policy, key, owner, capture, renewal.Lost).ConfigureAwait(false);
        }
        finally
        {
            await capture.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stores the response, or releases the key when it must not be replayed. Never cancelled by the client:
    /// the handler has run, and its outcome must reach Redis whether the client waits for it or not.</summary>
    private async Task StoreAsync(HttpContext context, IdempotencyPolicySet set, IdempotencyPolicy policy, RedisKey key, string owner, ResponseCaptureStream capture, bool lost)
    {
        if (lost)
        {
            IdempotencyMetrics.Add(_metrics.LeaseLost, policy.Name);
            Log.LeaseLost(_logger, policy.Name);
            return;
        }

        var status = context.Response.StatusCode;
        if (!policy.Stored.Contains(status))
        {
            await ReleaseAsync(key, owner, policy, "status").ConfigureAwait(false);
            return;
        }

        if (capture.Overflowed)
        {
            await ReleaseAsync(key, owner, policy, "too_large").ConfigureAwait(false);
            return;
        }

        var body = capture.Captured;
        try
        {
            var completed = await _store.CompleteAsync(key, owner, policy, status, StoredResponse.EncodeHeaders(context.Response.Headers, set.ReplayHeaders), body).ConfigureAwait(false);
            capture.MarkSent();
            if (completed)
            {
                _metrics.RecordStored(policy.Name, body.Length);
            }
            else
            {
                IdempotencyMetrics.Add(_metrics.LeaseLost, policy.Name);
                Log.LeaseLost(_logger, policy.Name);
            }
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            Log.CompleteFailed(_logger, policy.Name, ex);
        }
    }

    private async Task ReleaseAsync(RedisKey key, string owner, IdempotencyPolicy policy, string reason)
    {
        IdempotencyMetrics.Add(_metrics.Releases, policy.Name, reason);
        try
        {
            await _store.ReleaseAsync(key, owner).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
        {
            Log.ReleaseFailed(_logger, ex);
        }
    }
}
