using System.Collections.Concurrent;
using RedisEdge.Internal;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>A validated policy, compiled once per configuration snapshot.</summary>
internal sealed class ResponseCachePolicy
{
    public ResponseCachePolicy(string name, RedisResponseCachePolicyOptions options)
    {
        Name = name;
        TimeToLiveMs = (long)options.Expire.TotalMilliseconds;
        StaleWhileRevalidateMs = (long)options.StaleWhileRevalidate.TotalMilliseconds;
        StaleIfErrorMs = (long)options.StaleIfError.TotalMilliseconds;
        PassMs = (long)Math.Min(TimeToLiveMs, RedisResponseCachingDefaults.MaxPassDuration.TotalMilliseconds);
        VaryByAllQuery = options.VaryByQueryKeys.Count == 0 || options.VaryByQueryKeys.Contains("*");
        QueryKeys = [.. options.VaryByQueryKeys.Where(k => !string.IsNullOrWhiteSpace(k) && k != "*").Select(k => k.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal)];
        Headers = [.. options.VaryByHeaderNames.Where(h => !string.IsNullOrWhiteSpace(h)).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase)];
        RouteValues = [.. options.VaryByRouteValueNames.Where(r => !string.IsNullOrWhiteSpace(r)).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase)];
        VaryByUser = options.VaryByUser;
        Claims = [.. options.VaryByClaim.Where(c => !string.IsNullOrWhiteSpace(c)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        Tags = [.. options.Tags.Select(t => TagTemplate.TryParse(t, out _)!)];
        MaximumBodySize = options.MaximumBodySize;
        MaxEntries = options.MaxEntries;
        MaxBytes = options.MaxBytes;
        NearCache = options.NearCache;
        StatusCodes = options.StatusCodes.Count == 0 ? [200] : [.. options.StatusCodes];

        // Every key of a policy shares this hash tag, so tag eviction is one atomic script in one slot.
        HashTag = RedisKeyBuilder.Hash("policy\n" + name.ToLowerInvariant());
    }

    private ConcurrentDictionary<int, ResponseCachePolicy>? _durations;

    public string Name { get; }

    public long TimeToLiveMs { get; private set; }

    public long StaleWhileRevalidateMs { get; }

    public long StaleIfErrorMs { get; }

    public long PassMs { get; private set; }

    /// <summary>
    /// This policy with an endpoint's <see cref="CacheResponseAttribute.Duration"/> as its freshness; made once per
    /// duration and kept with the policy, so it is rebuilt with it when configuration reloads.
    /// </summary>
    public ResponseCachePolicy WithDuration(int seconds)
    {
        var durations = LazyInitializer.EnsureInitialized(ref _durations);
        return durations.GetOrAdd(seconds, static (s, self) =>
        {
            var copy = (ResponseCachePolicy)self.MemberwiseClone();
            copy._durations = null;
            copy.TimeToLiveMs = s * 1000L;
            copy.PassMs = Math.Min(copy.TimeToLiveMs, (long)RedisResponseCachingDefaults.MaxPassDuration.TotalMilliseconds);
            return copy;
        }, this);
    }

    public bool VaryByAllQuery { get; }

    public string[] QueryKeys { get; }

    public string[] Headers { get; }

    public string[] RouteValues { get; }

    public bool VaryByUser { get; }

    public string[] Claims { get; }

    public TagTemplate[] Tags { get; }

    public long MaximumBodySize { get; }

    public int MaxEntries { get; }

    public long MaxBytes { get; }

    public bool NearCache { get; }

    public HashSet<int> StatusCodes { get; }

    public string HashTag { get; }
}
