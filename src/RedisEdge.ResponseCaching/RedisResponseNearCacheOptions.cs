namespace RedisEdge.ResponseCaching;

/// <summary>
/// The optional in-process near cache (<c>RedisEdge:ResponseCaching:NearCache</c>): a bounded copy of hot fresh
/// entries, so a hit costs no round trip. Every instance drops its copy when Redis publishes that the entry was
/// evicted or replaced; while the subscription is down it serves nothing from memory.
/// </summary>
public sealed class RedisResponseNearCacheOptions
{
    /// <summary>Whether the near cache is on. Default <see langword="false"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>The most entries held (least recently used go first). Default 1000.</summary>
    public int MaxEntries { get; set; } = RedisResponseCachingDefaults.NearCacheMaxEntries;

    /// <summary>The largest body held in memory; larger entries are served from Redis. Default 256 KiB.</summary>
    public long MaxEntrySize { get; set; } = RedisResponseCachingDefaults.NearCacheMaxEntrySize;
}
