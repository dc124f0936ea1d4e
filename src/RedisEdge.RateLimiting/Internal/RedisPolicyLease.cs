using System.Threading.RateLimiting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>A lease decided by Redis (or by the local deny cache, or by the failure mode): nothing to give back on dispose.</summary>
internal sealed class RedisPolicyLease(bool acquired, TimeSpan? retryAfter, string? reason) : RateLimitLease
{
    private static readonly string[] RetryAndReason = [MetadataName.RetryAfter.Name, MetadataName.ReasonPhrase.Name];
    private static readonly string[] ReasonOnly = [MetadataName.ReasonPhrase.Name];

    /// <summary>The granted lease with no metadata: it holds nothing, so every acquisition that takes it shares one.</summary>
    public static readonly RedisPolicyLease Acquired = new(acquired: true, retryAfter: null, reason: null);

    public override bool IsAcquired { get; } = acquired;

    public override IEnumerable<string> MetadataNames =>
        retryAfter is not null ? RetryAndReason : reason is not null ? ReasonOnly : [];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (retryAfter is { } retry && metadataName == MetadataName.RetryAfter.Name)
        {
            metadata = retry;
            return true;
        }

        if (reason is not null && metadataName == MetadataName.ReasonPhrase.Name)
        {
            metadata = reason;
            return true;
        }

        metadata = null;
        return false;
    }
}
