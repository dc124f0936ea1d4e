// What a new app writes to use RedisEdge from its packages: the README's "use it in your app" part, compiled and run
// by the consumer test.
using RedisEdge.ResponseCaching;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddControllers();
builder.Services.AddRedisEdge()           // reads the "RedisEdge" section of appsettings.json
    .AddSessions()
    .AddRateLimiting()
    .AddIdempotency()
    .AddResponseCaching();

var app = builder.Build();

app.UseRedisSessions();          // sessions first: the endpoints below read them
app.UseRedisResponseCaching();   // a hit is answered here, before rate limiting and idempotency
app.UseRedisIdempotency();       // before rate limiting: a replay is served even when the quota is spent
app.UseRedisRateLimiting();

app.MapControllers();

app.MapGet("/limited", () => "ok").RequireRateLimit("tight");

app.MapPost("/session/{value}", (HttpContext context, string value) =>
{
    context.Session.SetString("value", value);
    return "stored";
});
app.MapGet("/session", (HttpContext context) => context.Session.GetString("value") ?? "(none)");

var renders = 0;
app.MapGet("/cached", () => $"render {Interlocked.Increment(ref renders)}").CacheResponse("short");

app.Run();
