using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using RedisEdge.Samples.Api;

var builder = WebApplication.CreateBuilder(args);
builder.UseEmbeddedRedisInDevelopment();   // Development without a Redis: an in-process server (DevelopmentRedis.cs)

builder.Services.AddProblemDetails();
builder.Services.AddRedisEdge(builder.Configuration.GetSection("RedisEdge"))
    .AddSessions()
    .AddSampleRateLimiting(builder.Configuration)
    .AddSampleResponseCaching()
    .AddSampleIdempotency();
builder.Services.AddHealthChecks().AddRedisEdge();
builder.AddSampleTelemetry();

var app = builder.Build();

// Idempotency before rate limiting: a retry of a completed order gets its stored response even when the caller's
// quota is spent; a new order the limiter refuses answers 429, which releases its key. Rate limiting before
// sessions: a rejected request costs no session work.
app.UseForwardedHeaders();
app.UseSampleIdempotency();
app.MapSampleRateLimiting();
app.UseRedisSessions();
app.UseRedisResponseCaching();

app.MapSessionEndpoints();
app.MapSampleResponseCaching();
app.MapSampleOrders();
app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
app.MapGet("/", () => Results.Text(
    """
    RedisEdge sample API
      GET /health   Redis reachability and latency
      POST /session/login?user=alice      log in (regenerates the session id, binds it to the user)
      GET  /session/profile               requires a session: user, cart, the user's sessions
      POST /session/cart/{item}           add an item;  GET /session/cart (read-only);  DELETE /session/cart/{item}
      POST /session/logout                destroy this session;  POST /session/logout-everywhere
    """ + "\n" + string.Join("\n", SampleRateLimiting.Usage.TrimEnd(), SampleResponseCaching.Usage.TrimEnd(), SampleOrders.Usage.TrimEnd()) + "\n"));

app.Run();

/// <summary>The sample's entry point, visible to the tests' WebApplicationFactory.</summary>
public partial class Program;
