namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// The partition a <see cref="RedisRateLimiterFactory"/> acquisition counts in. A caller's key stands for the policy's
/// own partition value (<see cref="IdentityKind"/> null); a request resolved by <see cref="PartitionResolver"/> carries
/// the value lists and overrides match and the identity its tag is made of (an anonymous <c>User</c> counted per client
/// IP, say), so a first-party request shares the counter <c>UseRedisRateLimiting()</c> keeps for it.
/// </summary>
internal readonly record struct LimiterPartition(string? Value, RedisRateLimitPartitionKind? IdentityKind = null, string? Identity = null)
{
    public static implicit operator LimiterPartition(string partitionKey) => new(partitionKey);
}
