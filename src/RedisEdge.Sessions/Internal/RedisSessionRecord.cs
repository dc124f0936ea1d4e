namespace RedisEdge.Sessions.Internal;

/// <summary>A session as stored in Redis: data fields without their <c>d:</c> prefix, plus metadata.</summary>
internal sealed class RedisSessionRecord
{
    public required Dictionary<string, byte[]> Data { get; init; }

    /// <summary>Creation time, Unix milliseconds on the Redis clock.</summary>
    public long CreatedAt { get; init; }

    /// <summary>End of the absolute lifetime, Unix milliseconds on the Redis clock.</summary>
    public long AbsoluteExpiry { get; init; }

    /// <summary>The hash of the bound user id, or <see langword="null"/>.</summary>
    public string? UserTag { get; init; }

    /// <summary>The version <c>commit.lua</c> increments (<c>m:v</c>, 0 until the first commit).</summary>
    public long Version { get; init; }
}
