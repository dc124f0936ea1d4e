using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// The one place where RedisEdge's start-up errors meet: every feature's configuration (its validators, the unknown-key
/// check, the binder's conversion errors) and every endpoint's metadata, reported together in one
/// <see cref="OptionsValidationException"/> whose failures each name their configuration path or endpoint. A user with a
/// typo in three features and a bad attribute sees all four at the first start, not one per restart.
/// </summary>
/// <remarks>
/// <para>
/// Endpoints exist only once the request pipeline is built, after the host's own options validation
/// (<c>ValidateOnStart</c>) and after the hosted services have started. So the features do not use
/// <c>ValidateOnStart</c>; on a web host <see cref="RedisEdgeStartupFilter"/> runs the whole report right after the
/// pipeline is configured, and the features' hosted services (<see cref="RedisEdgeHostedService{TService}"/>) do not
/// start while the configuration is invalid, so nothing fails before the report does.
/// </para>
/// <para>
/// On a host without a server (no endpoints to check) the first RedisEdge hosted service throws the options errors
/// instead, as <c>ValidateOnStart</c> would have.
/// </para>
/// </remarks>
internal sealed class RedisEdgeStartupReport(
    IServiceProvider services,
    RedisEdgeSectionPath<RedisEdgeOptions> section,
    IEnumerable<IRedisEdgeOptionsCheck> options,
    IEnumerable<IRedisEdgeEndpointCheck> endpoints)
{
    private readonly Lock _gate = new();
    private IReadOnlyList<string>? _optionsErrors;

    /// <summary>What is wrong with every feature's configuration; worked out once.</summary>
    public IReadOnlyList<string> OptionsErrors
    {
        get
        {
            lock (_gate)
            {
                if (_optionsErrors is null)
                {
                    var errors = new List<string>();
                    foreach (var check in options)
                    {
                        check.Check(errors);
                    }

                    _optionsErrors = [.. errors.Distinct()];
                }

                return _optionsErrors;
            }
        }
    }

    /// <summary>
    /// Whether the features' hosted services may start: the configuration is valid. Throws the options errors when no
    /// server will build a pipeline (so no <see cref="RedisEdgeStartupFilter"/> will report them).
    /// </summary>
    public bool CanStart()
    {
        var errors = OptionsErrors;
        if (errors.Count == 0)
        {
            return true;
        }

        if (services.GetService<IServiceProviderIsService>()?.IsService(typeof(IServer)) == true)
        {
            return false;
        }

        throw Failure(errors);
    }

    /// <summary>Throws one exception listing every configuration error and every error of <paramref name="endpointList"/>.</summary>
    public void ThrowIfInvalid(IReadOnlyList<Endpoint> endpointList)
    {
        var errors = new List<string>(OptionsErrors);
        foreach (var check in endpoints)
        {
            check.Check(endpointList, errors);
        }

        if (errors.Count > 0)
        {
            throw Failure(errors);
        }
    }

    private OptionsValidationException Failure(IEnumerable<string> errors) =>
        new(section.Path, typeof(RedisEdgeOptions), errors.Distinct());
}

/// <summary>One feature's configuration, checked for <see cref="RedisEdgeStartupReport"/>.</summary>
internal interface IRedisEdgeOptionsCheck
{
    /// <summary>Adds what is wrong with the configuration to <paramref name="errors"/>.</summary>
    void Check(List<string> errors);
}

/// <summary>One feature's endpoint metadata, checked for <see cref="RedisEdgeStartupReport"/>.</summary>
internal interface IRedisEdgeEndpointCheck
{
    /// <summary>Adds what is wrong with <paramref name="endpoints"/>' metadata to <paramref name="errors"/>.</summary>
    void Check(IReadOnlyList<Endpoint> endpoints, List<string> errors);
}

/// <summary>Validates <typeparamref name="TOptions"/> as <c>ValidateOnStart</c> would, collecting instead of throwing.</summary>
internal sealed class RedisEdgeOptionsCheck<TOptions>(IOptionsMonitor<TOptions> monitor) : IRedisEdgeOptionsCheck
    where TOptions : class
{
    public void Check(List<string> errors)
    {
        try
        {
            _ = monitor.Get(Options.DefaultName);
        }
        catch (OptionsValidationException ex)
        {
            errors.AddRange(ex.Failures);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's own refusal (a value it cannot convert), which names the path.
            errors.Add(ex.Message);
        }
    }
}
