namespace RedisEdge.Idempotency;

/// <summary>Turns idempotency off for a controller, action or endpoint, whatever <see cref="IdempotentAttribute"/> says.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableIdempotencyAttribute : Attribute
{
}
