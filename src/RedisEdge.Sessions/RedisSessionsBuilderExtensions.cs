using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
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
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = RedisEdgeConfiguration.BindSection<RedisSessionOptions>(builder, RedisSessionDefaults.ConfigurationSectionName);
        return AddSessionsCore(builder, options);
    }

    /// <summary>Adds sessions configured from <c>RedisEdge:Sessions</c>, then <paramref name="configure"/>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder, Action<RedisSessionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = RedisEdgeConfiguration.BindSection<RedisSessionOptions>(builder, RedisSessionDefaults.ConfigurationSectionName);
        options.Configure(configure);
        return AddSessionsCore(builder, options);
    }

    /// <summary>Adds sessions configured from <paramref name="configuration"/> instead of <c>RedisEdge:Sessions</c>.</summary>
    public static IRedisEdgeBuilder AddSessions(this IRedisEdgeBuilder builder, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = RedisEdgeConfiguration.BindSection<RedisSessionOptions>(builder, RedisSessionDefaults.ConfigurationSectionName, configuration);
        return AddSessionsCore(builder, options);
    }

    private static IRedisEdgeBuilder AddSessionsCore(IRedisEdgeBuilder builder, OptionsBuilder<RedisSessionOptions> options)
    {
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(RedisSessionsMarker)))
        {
            throw new InvalidOperationException("AddSessions was called twice; call it once on the RedisEdge builder.");
        }

        services.AddSingleton<RedisSessionsMarker>();
        RedisEdgeMiddlewareGuard.Register(services, Guard);
        services.AddSingleton<IValidateOptions<RedisSessionOptions>, RedisSessionOptionsValidator>();
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
            m.GetMetadata<SessionlessAttribute>() is null);
}
