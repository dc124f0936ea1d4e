using Microsoft.AspNetCore.Http;

namespace RedisEdge.Internal;

/// <summary>
/// Marks a response as built from per-user state, so a shared cache does not store it. The response cache sets this
/// feature while an origin runs for a fill; a feature that holds per-user request state (a session) calls
/// <see cref="Mark"/> when the endpoint reads or writes that state. Without the feature (no fill running) marking
/// costs one feature lookup and does nothing. Lives in Core so that neither feature references the other.
/// </summary>
internal sealed class PerUserResponseFeature
{
    /// <summary>What the endpoint touched (<c>session</c>), or <see langword="null"/> when nothing per-user.</summary>
    public string? Source { get; private set; }

    public static void Mark(HttpContext context, string source)
    {
        if (context.Features.Get<PerUserResponseFeature>() is { Source: null } feature)
        {
            feature.Source = source;
        }
    }
}
