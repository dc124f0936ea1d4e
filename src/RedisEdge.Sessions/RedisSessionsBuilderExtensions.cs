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
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder)
        => AddSessionsCore(builder, section: null, configure: null);

    /// <summary>Adds sessions configured from <c>RedisEdge:Sessions</c>, then <paramref name="configure"/>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder, Action<RedisSessionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddSessionsCore(builder, section: null, configure);
    }

    /// <summary>Adds sessions configured from <paramref name="configuration"/> instead of <c>RedisEdge:Sessions</c>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddSessionsCore(builder, configuration, configure: null);
    }

    private static IRedisEdgeBuilder AddSessionsCore(IRedisEdgeBuilder builder, IConfigurationSection? section, Action<RedisSessionOptions>? configure)
    {
        RedisEdgeFeatureRegistration.Add<RedisSessionOptions, RedisSessionOptionsValidator>(
            builder, Guard, RedisSessionDefaults.ConfigurationSectionName, section, configure, static o => o.Failure);
        var services = builder.Services;
        services.TryAddSingleton<RedisSessionTelemetry>();
        services.TryAddSingleton<RedisSessionStore>();
        services.TryAddSingleton<RedisSessionPersistence>();
        services.TryAddSingleton<RedisSessionUsers>();
        services.TryAddSingleton<RedisSessionLifecycle>();
        services.TryAddSingleton<IRedisSessionManager, RedisSessionManager>();
        return builder;
    }

    /// <summary>Endpoints that ask for a session refuse to run where the session middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "sessions", "app.UseRedisSessions()", "[RequireSession] or [ReadOnlySession]",
        static m => (m.GetMetadata<RequireSessionAttribute>() is not null || m.GetMetadata<ReadOnlySessionAttribute>() is not null) &&
            m.GetMetadata<SessionlessAttribute>() is null,
        "AddSessions",
        RedisSessionDefaults.MeterName);
}
