using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace RedisEdge.Internal;

/// <summary>
/// Starts a RedisEdge hosted service only when the configuration is valid, and resolves it only then (its dependencies
/// read the options), so an invalid configuration is reported whole by <see cref="RedisEdgeStartupReport"/> instead of
/// by whichever service happens to start first.
/// </summary>
internal sealed class RedisEdgeHostedService<TService>(IServiceProvider services, RedisEdgeStartupReport report) : IHostedService
    where TService : class, IHostedService
{
    private TService? _started;

    /// <summary>Registers <typeparamref name="TService"/> as a singleton started (and stopped) through the gate.</summary>
    public static IServiceCollection Register(IServiceCollection services)
    {
        services.TryAddSingleton<TService>();
        return services.AddSingleton<IHostedService, RedisEdgeHostedService<TService>>();
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!report.CanStart())
        {
            return;
        }

        var service = services.GetRequiredService<TService>();
        await service.StartAsync(cancellationToken).ConfigureAwait(false);
        _started = service;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _started?.StopAsync(cancellationToken) ?? Task.CompletedTask;
}
