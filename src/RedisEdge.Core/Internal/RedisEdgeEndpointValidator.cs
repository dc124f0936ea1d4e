using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Fails start-up when an endpoint's RedisEdge metadata is invalid (it names a policy that is not defined, say),
/// instead of finding out on the endpoint's first request. Each feature says what is wrong with one endpoint;
/// <see cref="RedisEdgeStartupReport"/> reports the errors of every endpoint with every configuration error.
/// </summary>
/// <remarks>
/// Endpoints are checked even when the feature's configuration is invalid, against the options as bound (without
/// their validation), so a misspelt setting and an endpoint naming an undefined policy are reported in one start.
/// </remarks>
internal abstract class RedisEdgeEndpointValidator<TOptions>(IServiceProvider services, RedisEdgeSectionPath<TOptions> section) : IRedisEdgeEndpointCheck
    where TOptions : class
{
    /// <summary>The feature's configuration section, such as <c>RedisEdge:RateLimiting</c>.</summary>
    protected string SectionPath => section.Path;

    public void Check(IReadOnlyList<Endpoint> endpoints, List<string> errors)
    {
        if (Options(out var valid) is not { } options)
        {
            return;
        }

        foreach (var endpoint in endpoints)
        {
            Validate(endpoint, options, valid, errors);
        }
    }

    /// <summary>
    /// Adds what is wrong with <paramref name="endpoint"/>'s metadata to <paramref name="errors"/>. When
    /// <paramref name="optionsValid"/> is false the options failed validation (their errors are reported already).
    /// </summary>
    protected abstract void Validate(Endpoint endpoint, TOptions options, bool optionsValid, List<string> errors);

    /// <summary>The current options; when they fail validation, the options as bound; null when they cannot be bound.</summary>
    private TOptions? Options(out bool valid)
    {
        valid = true;
        try
        {
            return services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(Microsoft.Extensions.Options.Options.DefaultName);
        }
        catch (OptionsValidationException)
        {
            valid = false;
        }
        catch (InvalidOperationException)
        {
            return null;
        }

        try
        {
            var unvalidated = new OptionsFactory<TOptions>(
                services.GetServices<IConfigureOptions<TOptions>>(),
                services.GetServices<IPostConfigureOptions<TOptions>>());
            return unvalidated.Create(Microsoft.Extensions.Options.Options.DefaultName);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
