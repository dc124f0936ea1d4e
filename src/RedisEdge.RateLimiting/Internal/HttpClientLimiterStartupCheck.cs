using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// An HttpClient limited by <c>AddRedisEdgeRateLimiter</c> in an app that never registered RedisEdge rate limiting
/// fails the host's start, not its first call: no options of the feature exist to validate, so the policy check
/// (<see cref="HttpClientPolicyValidator"/>) would never run.
/// </summary>
internal sealed class HttpClientLimiterStartupCheck(IServiceProvider services, string clientName, string policyName) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<IRedisRateLimiterFactory>() is null)
        {
            throw NotRegistered(clientName, policyName);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static InvalidOperationException NotRegistered(string clientName, string policyName) => new(
        $"The HttpClient '{clientName}' is limited by the RedisEdge policy '{policyName}' (AddRedisEdgeRateLimiter), " +
        "but RedisEdge rate limiting is not registered: call services.AddRedisEdge().AddRateLimiting().");
}
