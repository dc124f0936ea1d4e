using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
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
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(IdempotencyMarker)))
        {
            throw new InvalidOperationException("AddIdempotency was called twice. Call it once; add policies in configuration or in its configure delegate.");
        }

        services.AddSingleton<IdempotencyMarker>();
        RedisEdgeMiddlewareGuard.Register(services, Guard);
        var options = RedisEdgeConfiguration.BindSection<RedisIdempotencyOptions>(builder, RedisIdempotencyDefaults.SectionName, section);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton<IValidateOptions<RedisIdempotencyOptions>, RedisIdempotencyOptionsValidator>();
        services.AddSingleton(sp => new IdempotencySection(section ?? RedisEdgeConfiguration.GetSection(builder, sp, RedisIdempotencyDefaults.SectionName)));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IdempotencyMetrics>();
        services.AddSingleton<IdempotencyPolicyProvider>();
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<IdempotencyExecutor>();
        services.AddSingleton<IRedisEdgeEndpointCheck, IdempotencyEndpointValidator>();
        services.AddSingleton<IStartupFilter, IdempotencyRequestBuffering>();
        return builder;
    }

    /// <summary>Endpoints that ask for the feature refuse to run where its middleware did not.</summary>
    internal static readonly RedisEdgeGuardedFeature Guard = new(
        "idempotency", "app.UseRedisIdempotency()", "[Idempotent] or .WithIdempotency()",
        static m => m.GetMetadata<IdempotentAttribute>() is not null && m.GetMetadata<DisableIdempotencyAttribute>() is null);

    /// <summary>Marks that <c>AddIdempotency</c> ran, so <c>UseRedisIdempotency</c> can say when it did not.</summary>
    internal sealed class IdempotencyMarker;
}
