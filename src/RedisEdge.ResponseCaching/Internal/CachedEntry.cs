namespace RedisEdge.ResponseCaching.Internal;

/// <summary>A stored response and its timeline (server milliseconds since the Unix epoch).</summary>
internal sealed class CachedEntry
{
    public required int Status { get; init; }

    public required IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; }

    public required byte[] Body { get; init; }

    public required string ETag { get; init; }

    public required long Created { get; init; }

    public required long FreshUntil { get; init; }

    public required long StaleWhileRevalidateUntil { get; init; }

    public required long StaleIfErrorUntil { get; init; }
}
