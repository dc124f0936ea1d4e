using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.Internal;

/// <summary>
/// Runs <see cref="RedisEdgeStartupReport"/> once the pipeline is configured (the endpoints exist only then), still
/// inside the host's start, so a bad configuration or endpoint fails start-up rather than a first request.
/// </summary>
internal sealed class RedisEdgeStartupFilter(IServiceProvider services) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        var endpoints = app.ApplicationServices.GetService<EndpointDataSource>()?.Endpoints ?? [];
        services.GetRequiredService<RedisEdgeStartupReport>().ThrowIfInvalid(endpoints);
    };
}
