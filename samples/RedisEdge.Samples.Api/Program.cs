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
builder.Services.AddSamplePartner(builder.Configuration);   // an HttpClient limited fleet-wide (SamplePartner.cs)
builder.Services.AddControllers();
builder.Services.AddHealthChecks().AddRedisEdge();
builder.AddSampleTelemetry();

var app = builder.Build();

// The whole pipeline, in order. Each line says why it sits where it does.
app.UseForwardedHeaders();        // first: everything after it sees the client's address, not the balancer's (KnownProxies)
app.UseRedisIdempotency();        // before rate limiting: a retry of a completed order gets its stored response even when
                                  // the caller's quota is spent; a new order the limiter refuses (429) releases its key
app.UseRedisRateLimiting();       // before sessions and the cache: a rejected request costs no session or cache work
app.UseRedisSessions();           // before the cache: it sees which responses read a session and never stores them
app.UseRedisResponseCaching();    // last before the endpoints: a hit is answered here, the endpoint never runs

app.MapControllers();             // Controllers/CatalogController.cs: the same features as attributes
app.MapSessionEndpoints();
app.MapSampleResponseCaching();
app.MapSampleRateLimiting();
app.MapSampleOrders();
app.MapSamplePartner();
app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
app.MapGet("/", () => Results.Text(
    """
    RedisEdge sample API
      GET /health   Redis reachability and latency
      POST /session/login?user=alice      log in (regenerates the session id, binds it to the user)
      GET  /session/profile               requires a session: user, cart, the user's sessions
      POST /session/cart/{item}           add an item;  GET /session/cart (read-only);  DELETE /session/cart/{item}
      POST /session/logout                destroy this session;  POST /session/logout-everywhere
    """ + "\n" + string.Join("\n", SampleRateLimiting.Usage.TrimEnd(), SampleResponseCaching.Usage.TrimEnd(), SampleOrders.Usage.TrimEnd(), SamplePartner.Usage.TrimEnd(), RedisEdge.Samples.Api.Controllers.CatalogController.Usage.TrimEnd()) + "\n"));

app.Run();

/// <summary>The sample's entry point, visible to the tests' WebApplicationFactory.</summary>
public partial class Program;
