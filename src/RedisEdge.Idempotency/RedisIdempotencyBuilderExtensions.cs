using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using RedisEdge;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers RedisEdge idempotency on the builder returned by <c>AddRedisEdge</c>.</summary>
public static class RedisIdempotencyBuilderExtensions
{
    /// <summary>Adds idempotency configured from <c>RedisEdge:Idempotency</c>.</summary>
    public static IRedisEdgeBuilder AddIdempotency(this IRedisEdgeBuilder builder)
        => AddIdempotencyCore(builder, section: null, configure: null);

    /// <summary>Adds idempotency configured from <c>RedisEdge:Idempotency</c>, then <paramref name="configure"/>
    /// (which may add policies and scope resolvers in code).</summary>
    public static IRedisEdgeBuilder AddIdempotency(this IRedisEdgeBuilder builder, Action<RedisIdempotencyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddIdempotencyCore(builder, section: null, configure);
    }

    /// <summary>Adds idempotency configured from <paramref name="configuration"/>.</summary>
    public static IRedisEdgeBuilder AddIdempotency(this IRedisEdgeBuilder builder, IConfigurationSection configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return AddIdempotencyCore(builder, configuration, configure: null);
    }

    private static IRedisEdgeBuilder AddIdempotencyCore(IRedisEdgeBuilder builder, IConfigurationSection? section, Action<RedisIdempotencyOptions>? configure)
    {
        RedisEdgeFeatureRegistration.Add<RedisIdempotencyOptions, RedisIdempotencyOptionsValidator>(
            builder, Guard, RedisIdempotencyDefaults.SectionName, section, configure, static o => o.Failure);
        var services = builder.Services;
        services.AddSingleton<IdempotencyMetrics>();
        RedisEdgeFeatureRegistration.AddPolicies<RedisIdempotencyOptions, IdempotencyPolicyProvider, IdempotencyEndpointValidator>(services);
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<IdempotencyExecutor>();
        services.AddSingleton<IStartupFilter, IdempotencyRequestBuffering>();
        return builder;
    }

    /// <summary>Endpoints that ask for the feature refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "idempotency", "app.UseRedisIdempotency()", "[Idempotent] or .WithIdempotency()",
        static m => m.GetMetadata<IdempotentAttribute>() is not null && m.GetMetadata<DisableIdempotencyAttribute>() is null,
        "AddIdempotency",
        RedisIdempotencyDefaults.MeterName);
}
