using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts a fleet-wide RedisEdge rate limit on the calls a named or typed <see cref="HttpClient"/> sends.</summary>
public static class RedisRateLimitingHttpClientBuilderExtensions
{
    /// <summary>
    /// Limits the client's calls by the RedisEdge policy <paramref name="policyName"/>, one quota per request host (under
    /// a <c>Global</c> policy, one quota for every host). Every replica's client shares the quota in Redis. A refused
    /// call throws Polly's <c>RateLimiterRejectedException</c> with the policy's <c>RetryAfter</c> and never reaches the
    /// host; a queue policy delays the call instead. Needs <c>AddRedisEdge().AddRateLimiting()</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="policyName"/> is null or empty.</exception>
    /// <remarks>
    /// Start-up fails naming <c>RedisEdge:RateLimiting:Policies:{policyName}</c> when no such policy is configured, and
    /// saying what to call when <c>AddRateLimiting()</c> was never registered. Add
    /// it after a resilience handler (<c>AddStandardResilienceHandler()</c>) so that each attempt is counted, as the
    /// partner counts it.
    /// </remarks>
    public static IHttpClientBuilder AddRedisEdgeRateLimiter(this IHttpClientBuilder builder, string policyName) =>
        builder.AddRedisEdgeRateLimiter(policyName, Host);

    /// <summary>
    /// Limits the client's calls by the RedisEdge policy <paramref name="policyName"/>, one quota per value of
    /// <paramref name="partitionKey"/> (a tenant, an API key, an operation), as
    /// <see cref="AddRedisEdgeRateLimiter(IHttpClientBuilder, string)"/> does per host.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="policyName"/> is null or empty.</exception>
    public static IHttpClientBuilder AddRedisEdgeRateLimiter(this IHttpClientBuilder builder, string policyName, Func<HttpRequestMessage, string> partitionKey)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(policyName);
        ArgumentNullException.ThrowIfNull(partitionKey);

        var clientName = builder.Name;
        builder.Services.AddSingleton<IValidateOptions<RedisRateLimitingOptions>>(sp =>
            new HttpClientPolicyValidator(clientName, policyName, sp.GetRequiredService<RedisEdgeSectionPath<RedisRateLimitingOptions>>()));

        // Not AddHostedService: it registers one check per type, and each limited client needs its own.
        builder.Services.AddSingleton<IHostedService>(sp => new HttpClientLimiterStartupCheck(sp, clientName, policyName));
        return builder.AddHttpMessageHandler(sp =>
        {
            var factory = sp.GetService<IRedisRateLimiterFactory>() ?? throw HttpClientLimiterStartupCheck.NotRegistered(clientName, policyName);
            return new RedisRateLimitingHandler(factory.CreatePartitioned(policyName, partitionKey), policyName);
        });
    }

    /// <summary>The default partition: the request's host (its IDN form, lower case), so each partner API has its own quota.</summary>
    private static string Host(HttpRequestMessage request) =>
        request.RequestUri is { IsAbsoluteUri: true } uri ? uri.IdnHost : string.Empty;
}
