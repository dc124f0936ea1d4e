using Microsoft.Extensions.Configuration;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>The configuration section response caching binds, for checks the binder cannot make.</summary>
internal sealed record ResponseCachingSection(IConfigurationSection Section);
