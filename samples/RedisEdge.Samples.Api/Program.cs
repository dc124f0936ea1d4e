using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using RedisEdge.Samples.Api;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.Services.AddRedisEdge(builder.Configuration.GetSection("RedisEdge"))
    .AddSampleRateLimiting();
builder.Services.AddHealthChecks().AddRedisEdge();
builder.AddSampleTelemetry();

var app = builder.Build();

app.MapSampleRateLimiting();
app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
app.MapGet("/", () => Results.Text(
    """
    RedisEdge sample API
      GET /health   Redis reachability and latency
    """ + "\n" + SampleRateLimiting.Usage));

app.Run();

/// <summary>The sample's entry point, visible to the tests' WebApplicationFactory.</summary>
public partial class Program;
