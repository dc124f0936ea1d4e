namespace RedisEdge;

/// <summary>
/// Options shared by every RedisEdge feature, bound from the <c>RedisEdge</c> configuration section.
/// </summary>
public sealed class RedisEdgeOptions
{
    /// <summary>
    /// How RedisEdge reaches Redis and names its keys (<c>RedisEdge:Redis</c>).
    /// </summary>
    public RedisEdgeRedisOptions Redis { get; set; } = new();
}
