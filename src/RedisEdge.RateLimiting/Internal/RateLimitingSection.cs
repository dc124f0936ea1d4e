using Microsoft.Extensions.Configuration;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>The configuration section rate limiting binds, for checks the binder cannot make.</summary>
internal sealed record RateLimitingSection(IConfigurationSection Section);
