// The README's "Use it in your app" Program.cs: what a new app writes to use RedisEdge from its packages. The consumer
// test (tests/RedisEdge.Tests/Packaging/ConsumerPackageTests.cs) builds it from the packed packages and runs it.
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.HttpOverrides;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddControllers();
builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
builder.Services.Configure<ForwardedHeadersOptions>(o => o.ForwardedHeaders = ForwardedHeaders.XForwardedFor);
builder.Services.AddRedisEdge()               // reads "RedisEdge" from appsettings.json
    .AddIdempotency()
    .AddRateLimiting()
    .AddSessions()
    .AddResponseCaching();

var app = builder.Build();

app.UseForwardedHeaders();        // first: rate limits and idempotency scopes see the client, not the balancer
app.UseAuthentication();          // before RedisEdge: keys, limits and cache variants can be per user
app.UseRedisIdempotency();        // before rate limiting: a retry of a finished request is replayed even when the quota is spent
app.UseRedisRateLimiting();       // before sessions and the cache: a refused request costs no further work
app.UseRedisSessions();           // before the cache: a response built from a session is never stored for others
app.UseRedisResponseCaching();    // last: a hit is answered here and the endpoint does not run

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
