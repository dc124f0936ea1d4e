namespace RedisEdge.Idempotency.Internal;

internal sealed class IdempotencyFeature(string key, string callerScope, bool isTakeover, string ownerToken, long fencingToken, CancellationToken leaseLost) : IIdempotencyFeature
{
    public string Key => key;

    public string CallerScope => callerScope;

    public bool IsTakeover => isTakeover;

    public string OwnerToken => ownerToken;

    public long FencingToken => fencingToken;

    public CancellationToken LeaseLost => leaseLost;
}
