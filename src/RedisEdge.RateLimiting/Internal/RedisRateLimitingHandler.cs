using System.Threading.RateLimiting;
using Polly.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The outbound end of a RedisEdge policy (<c>AddRedisEdgeRateLimiter</c>): each request acquires one permit of the
/// policy's fleet-wide quota before it is sent and gives the lease back once the response has arrived, so a concurrency
/// policy counts the calls in flight and a queue policy delays the call instead of refusing it.
/// </summary>
/// <remarks>
/// A refused call throws Polly's <see cref="RateLimiterRejectedException"/>, as the rate limiter of
/// Microsoft.Extensions.Http.Resilience does: callers that use a resilience pipeline already catch that type, its
/// <see cref="RateLimiterRejectedException.RetryAfter"/> carries the lease's, and the standard pipeline's retry and
/// circuit breaker do not count it as a transient failure of the partner (an <see cref="HttpRequestException"/> would
/// be retried at once and could open the breaker though the partner never saw the call).
/// </remarks>
internal sealed class RedisRateLimitingHandler(PartitionedRateLimiter<HttpRequestMessage> limiter, string policyName) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var lease = await limiter.AcquireAsync(request, 1, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw Refused(lease, request);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>HttpClient.Send</c>: the caller chose to block a thread on the whole call, so it blocks on the decision too
    /// (a RedisEdge limiter's synchronous <c>AttemptAcquire</c> cannot grant without asking Redis).
    /// </summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var lease = limiter.AcquireAsync(request, 1, cancellationToken).AsTask().GetAwaiter().GetResult();
        if (!lease.IsAcquired)
        {
            throw Refused(lease, request);
        }

        return base.Send(request, cancellationToken);
    }

    private RateLimiterRejectedException Refused(RateLimitLease lease, HttpRequestMessage request)
    {
        var reason = lease.TryGetMetadata(MetadataName.ReasonPhrase, out var phrase) ? " " + phrase : string.Empty;
        var message = $"The RedisEdge rate-limit policy '{policyName}' refused the call to {request.RequestUri?.GetLeftPart(UriPartial.Authority)}.{reason}";
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? new RateLimiterRejectedException(message, retryAfter)
            : new RateLimiterRejectedException(message);
    }
}
