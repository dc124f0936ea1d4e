using Microsoft.Extensions.Configuration;

namespace RedisEdge.Idempotency.Internal;

/// <summary>The configuration section idempotency binds, for checks the binder cannot make.</summary>
internal sealed record IdempotencySection(IConfigurationSection Section);
