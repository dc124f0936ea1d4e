using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample API as its appsettings.json configures it, pointed at the test Redis with a fresh key prefix.</summary>
internal static class SampleApp
{
    public static WebApplicationFactory<Program> Create(RedisTestServer redis) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Testing");
            web.UseSetting("RedisEdge:Redis:Configuration", redis.Configuration);
            web.UseSetting("RedisEdge:Redis:KeyPrefix", RedisServerFixture.UniquePrefix());
            web.UseSetting("Telemetry:Exporter", "none");
        });
}
