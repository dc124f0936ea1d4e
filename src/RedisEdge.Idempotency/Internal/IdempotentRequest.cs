using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>What an idempotent request is claimed by: its key, caller scope, fingerprint, Redis key and owner token.</summary>
internal sealed record IdempotentRequest(string Key, string Scope, string Fingerprint, RedisKey RedisKey, string Owner);
