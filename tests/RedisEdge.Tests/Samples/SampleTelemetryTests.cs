using Microsoft.Extensions.Configuration;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample writes no metrics or spans to the console unless asked to (<c>Telemetry:Exporter</c>), and logs a
/// Redis outage of its health check once, not once per probe.</summary>
public sealed class SampleTelemetryTests
{
    [Fact]
    public void SampleSettings_ExportNoTelemetryAndLogNoPerProbeErrorByDefault()
    {
        // The sample's appsettings.json, copied next to the tests by the project reference.
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false)
            .Build();

        Assert.Equal("none", configuration["Telemetry:Exporter"]);

        // The health-check service's own line per Unhealthy probe is silenced; RedisEdge logs the probe's state changes.
        Assert.Equal("Critical", configuration["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService"]);
    }
}
