using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample API as its appsettings.json configures it, pointed at the test Redis with a fresh key prefix.</summary>
internal static class SampleApp
{
    public static WebApplicationFactory<Program> Create(RedisTestServer redis) => Create(redis, RedisServerFixture.UniquePrefix());

    /// <summary>One replica of a fleet: replicas created with the same <paramref name="keyPrefix"/> share their Redis state.</summary>
    public static WebApplicationFactory<Program> Create(RedisTestServer redis, string keyPrefix, Action<IWebHostBuilder>? configure = null) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Testing");
            web.UseSetting("RedisEdge:Redis:Configuration", redis.Configuration);
            web.UseSetting("RedisEdge:Redis:KeyPrefix", keyPrefix);
            web.UseSetting("Telemetry:Exporter", "none");
            configure?.Invoke(web);
        });
}
