using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Binds a feature's options to its configuration section (<c>RedisEdge:&lt;Feature&gt;</c>) with reload support,
/// and tells validators the section's path so error messages name it.
/// </summary>
internal static class RedisEdgeConfiguration
{
    /// <summary>The features' sections under the RedisEdge section: not settings of Core's own options.</summary>
    private static readonly string[] FeatureSections = ["Sessions", "RateLimiting", "Idempotency", "ResponseCaching"];

    /// <summary>
    /// The section of <paramref name="name"/> under the builder's RedisEdge section; the application's
    /// <c>RedisEdge:<paramref name="name"/></c> section when <c>AddRedisEdge</c> was not given one.
    /// </summary>
    public static IConfigurationSection GetSection(IRedisEdgeBuilder builder, IServiceProvider services, string name)
    {
        if (builder.Configuration is { } section)
        {
            return string.IsNullOrEmpty(name) ? section : section.GetSection(name);
        }

        var root = services.GetService<IConfiguration>();
        var path = string.IsNullOrEmpty(name) ? RedisEdgeDefaults.ConfigurationSectionName : $"{RedisEdgeDefaults.ConfigurationSectionName}:{name}";
        return root is null ? new ConfigurationBuilder().Build().GetSection(path) : root.GetSection(path);
    }

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="section"/> when the app passed one to the feature's
    /// <c>Add...(IConfigurationSection)</c> overload, otherwise to the feature section <paramref name="name"/>;
    /// reloads when configuration changes, and registers a <see cref="RedisEdgeSectionPath{TOptions}"/> so
    /// validation messages name the path.
    /// </summary>
    public static OptionsBuilder<TOptions> BindSection<TOptions>(IRedisEdgeBuilder builder, string name, IConfigurationSection? section = null)
        where TOptions : class
    {
        var services = builder.Services;
        IConfigurationSection Resolve(IServiceProvider sp) => section ?? GetSection(builder, sp, name);
        services.AddSingleton(sp => new RedisEdgeSectionPath<TOptions>(Resolve(sp).Path));
        services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(sp =>
            new ConfigurationChangeTokenSource<TOptions>(Options.DefaultName, Resolve(sp)));
        services.AddSingleton<IConfigureOptions<TOptions>>(sp =>
            new ConfigureNamedOptions<TOptions>(Options.DefaultName, options => Resolve(sp).Bind(options)));
        services.AddSingleton<IValidateOptions<TOptions>>(sp =>
            new RedisEdgeConfigurationKeys<TOptions>(Resolve(sp), string.IsNullOrEmpty(name) ? FeatureSections : []));
        services.AddSingleton<IRedisEdgeOptionsCheck, RedisEdgeOptionsCheck<TOptions>>();
        return services.AddOptions<TOptions>();
    }
}

/// <summary>The configuration path an options type is bound from, for error messages.</summary>
internal sealed record RedisEdgeSectionPath<TOptions>(string Path);
