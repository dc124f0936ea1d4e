using Microsoft.Extensions.Configuration;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample writes no metrics or spans to the console unless asked to (<c>Telemetry:Exporter</c>).</summary>
public sealed class SampleTelemetryTests
{
    [Fact]
    public void SampleSettings_ExportNoTelemetryByDefault()
    {
        // The sample's appsettings.json, copied next to the tests by the project reference.
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false)
            .Build();

        Assert.Equal("none", configuration["Telemetry:Exporter"]);
    }
}
