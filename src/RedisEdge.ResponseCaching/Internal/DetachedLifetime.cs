using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The request lifetime a filler's origin sees: cancelled by the host's shutdown, not by its client leaving.</summary>
internal sealed class DetachedLifetime(IHttpRequestLifetimeFeature? client, CancellationToken stopping) : IHttpRequestLifetimeFeature
{
    public CancellationToken RequestAborted
    {
        get => stopping;
        set { }
    }

    public void Abort() => client?.Abort();
}
