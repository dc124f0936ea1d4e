using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace RedisEdge.Samples.Api;

/// <summary>
/// OpenTelemetry export chosen in appsettings.json: <c>Telemetry:Exporter</c> = <c>none</c>, <c>console</c> or
/// <c>otlp</c> (the OTLP endpoint comes from <c>Telemetry:OtlpEndpoint</c> or the standard OTEL_* variables).
/// </summary>
internal static class SampleTelemetry
{
    public static void AddSampleTelemetry(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection("Telemetry");
        var exporter = section["Exporter"]?.Trim().ToUpperInvariant() ?? "NONE";
        if (exporter is not ("NONE" or "CONSOLE" or "OTLP"))
        {
            throw new InvalidOperationException($"Telemetry:Exporter must be none, console or otlp (was '{section["Exporter"]}').");
        }

        if (exporter == "NONE")
        {
            return;
        }

        var endpoint = section["OtlpEndpoint"];
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("RedisEdge.Samples.Api"))
            .WithMetrics(metrics =>
            {
                metrics.AddRedisEdgeInstrumentation();
                if (exporter == "CONSOLE")
                {
                    metrics.AddConsoleExporter();
                }
                else
                {
                    metrics.AddOtlpExporter(o => { if (!string.IsNullOrEmpty(endpoint)) { o.Endpoint = new Uri(endpoint); } });
                }
            })
            .WithTracing(tracing =>
            {
                tracing.AddRedisEdgeInstrumentation();
                if (exporter == "CONSOLE")
                {
                    tracing.AddConsoleExporter();
                }
                else
                {
                    tracing.AddOtlpExporter(o => { if (!string.IsNullOrEmpty(endpoint)) { o.Endpoint = new Uri(endpoint); } });
                }
            });
    }
}
