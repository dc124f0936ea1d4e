using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using RedisEdge;
using RedisEdge.Internal;
using RedisEdge.Sessions;
using RedisEdge.Sessions.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers RedisEdge distributed sessions on the builder returned by <c>AddRedisEdge</c>.</summary>
public static class RedisSessionsBuilderExtensions
{
    /// <summary>Adds sessions configured from <c>RedisEdge:Sessions</c>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder) => Feature.Add(builder);

    /// <summary>Adds sessions configured from <c>RedisEdge:Sessions</c>, then <paramref name="configure"/>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder, Action<RedisSessionOptions> configure) => Feature.Add(builder, configure);

    /// <summary>Adds sessions configured from <paramref name="configuration"/> instead of <c>RedisEdge:Sessions</c>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder, IConfigurationSection configuration) => Feature.Add(builder, configuration);

    /// <summary>The feature as Core registers it; endpoints that ask for it refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeFeature<RedisSessionOptions> Feature = new(
        new RedisEdgeGuardedFeature("sessions", "app.UseRedisSessions()", "[RequireSession] or [ReadOnlySession]",
            static m => (m.GetMetadata<RequireSessionAttribute>() is not null || m.GetMetadata<ReadOnlySessionAttribute>() is not null) &&
                m.GetMetadata<DisableSessionAttribute>() is null,
            "AddSessions",
            RedisSessionDefaults.MeterName),
        RedisSessionDefaults.ConfigurationSectionName,
        static o => o.Failure,
        static services =>
        {
            services.AddValidator<RedisSessionOptions, RedisSessionOptionsValidator>();
            services.TryAddSingleton<RedisSessionTelemetry>();
            services.TryAddSingleton<RedisSessionNearCache>();
            services.AddGatedHostedService<RedisSessionNearCacheEvents>();
            services.TryAddSingleton<RedisSessionStore>();
            services.TryAddSingleton<RedisSessionPersistence>();
            services.TryAddSingleton<RedisSessionUsers>();
            services.TryAddSingleton<RedisSessionLifecycle>();
            services.TryAddSingleton<IRedisSessionManager, RedisSessionManager>();
        });
}
