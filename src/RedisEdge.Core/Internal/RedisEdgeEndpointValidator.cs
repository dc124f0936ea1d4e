using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Fails start-up when an endpoint's RedisEdge metadata is invalid (it names a policy that is not defined, say),
/// instead of finding out on the endpoint's first request. Every feature with named policies registers one: it refuses
/// an endpoint that names a policy the options do not define, and a feature may say what else is wrong with an
/// endpoint. It throws nothing itself: <see cref="RedisEdgeStartupReport"/> reports the errors of every endpoint with
/// every configuration error, in one failure.
/// </summary>
/// <remarks>
/// Endpoints are checked even when the feature's configuration is invalid, against the policies as bound (without
/// their validation; see <see cref="RedisEdgePolicyProvider{TOptions}.OptionsValid"/>), so a misspelt setting and an
/// endpoint naming an undefined policy are reported in one start. The policy provider is resolved only when the check
/// runs, as it reads the options.
/// </remarks>
internal class RedisEdgeEndpointValidator<TOptions>(IServiceProvider services, RedisEdgeSectionPath<TOptions> section) : IRedisEdgeEndpointCheck
    where TOptions : class
{
    private RedisEdgePolicyProvider<TOptions>? _policies;

    /// <summary>The feature's configuration section, such as <c>RedisEdge:RateLimiting</c>.</summary>
    protected string SectionPath => section.Path;

    /// <summary>The feature's policy provider; set while <see cref="Check"/> runs.</summary>
    protected RedisEdgePolicyProvider<TOptions> Policies => _policies ?? throw new InvalidOperationException("The endpoint check is not running.");

    /// <summary>
    /// False when the options failed validation (their errors are reported already) and the endpoints are checked
    /// against the options as bound: a check that would repeat those errors under every endpoint's name skips itself.
    /// </summary>
    protected bool OptionsValid => _policies?.OptionsValid ?? false;

    public void Check(IReadOnlyList<Endpoint> endpoints, List<string> errors)
    {
        try
        {
            _policies = services.GetRequiredService<RedisEdgePolicyProvider<TOptions>>();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or OptionsValidationException && !OptionsAreValid())
        {
            // Not even the options as bound make a policy set (a value the binder cannot convert, say): the options
            // check reports why, and there is nothing to check endpoints against.
            return;
        }

        foreach (var endpoint in endpoints)
        {
            Validate(endpoint, errors);
        }
    }

    /// <summary>Adds what is wrong with <paramref name="endpoint"/>'s metadata to <paramref name="errors"/>.</summary>
    protected virtual void Validate(Endpoint endpoint, List<string> errors)
    {
        var policies = Policies;
        foreach (var name in policies.PolicyNames(endpoint))
        {
            if (!policies.IsDefined(name))
            {
                errors.Add($"Endpoint '{endpoint.DisplayName}' uses {policies.PolicyKind} '{name}', which is not defined under {SectionPath}:Policies.");
            }
        }
    }

    private bool OptionsAreValid()
    {
        try
        {
            _ = services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(Options.DefaultName);
            return true;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            return false;
        }
    }
}

/// <summary>A feature's options for its start-up checks: the current ones, or when they fail validation the options as bound.</summary>
internal static class RedisEdgeOptionsAsBound
{
    /// <summary>
    /// The current options of <paramref name="monitor"/>; when they fail validation, the options as bound and configured
    /// (without the validators), with <paramref name="valid"/> false. Throws when not even those can be made.
    /// </summary>
    public static TOptions Get<TOptions>(IOptionsMonitor<TOptions> monitor, IServiceProvider services, out bool valid)
        where TOptions : class
    {
        valid = true;
        try
        {
            return monitor.CurrentValue;
        }
        catch (OptionsValidationException)
        {
            valid = false;
        }

        var unvalidated = new OptionsFactory<TOptions>(
            services.GetServices<IConfigureOptions<TOptions>>(),
            services.GetServices<IPostConfigureOptions<TOptions>>());
        return unvalidated.Create(Options.DefaultName);
    }
}
