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
    public static IRedisEdgeBuilder AddIdempotency(this IRedisEdgeBuilder builder) => Feature.Add(builder);

    /// <summary>Adds idempotency configured from <c>RedisEdge:Idempotency</c>, then <paramref name="configure"/>
    /// (which may add policies and scope resolvers in code).</summary>
    public static IRedisEdgeBuilder AddIdempotency(this IRedisEdgeBuilder builder, Action<RedisIdempotencyOptions> configure) => Feature.Add(builder, configure);

    /// <summary>Adds idempotency configured from <paramref name="configuration"/>.</summary>
    public static IRedisEdgeBuilder AddIdempotency(this IRedisEdgeBuilder builder, IConfigurationSection configuration) => Feature.Add(builder, configuration);

    /// <summary>The feature as Core registers it; endpoints that ask for it refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeFeature<RedisIdempotencyOptions> Feature = new(
        new RedisEdgeGuardedFeature("idempotency", "app.UseRedisIdempotency()", "[Idempotent] or .WithIdempotency()",
            static m => m.GetMetadata<IdempotentAttribute>() is not null && m.GetMetadata<DisableIdempotencyAttribute>() is null,
            "AddIdempotency",
            RedisIdempotencyDefaults.MeterName),
        RedisIdempotencyDefaults.SectionName,
        static o => o.Failure,
        static services => services
            .AddValidator<RedisIdempotencyOptions, RedisIdempotencyOptionsValidator>()
            .AddSingleton<IdempotencyMetrics>()
            .AddPolicies<RedisIdempotencyOptions, IdempotencyPolicyProvider, IdempotencyEndpointValidator>()
            .AddSingleton<IdempotencyStore>()
            .AddSingleton<IdempotencyExecutor>()
            .AddSingleton<IStartupFilter, IdempotencyRequestBuffering>());
}
