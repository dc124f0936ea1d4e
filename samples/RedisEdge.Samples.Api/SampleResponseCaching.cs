using System.Globalization;
using Microsoft.Extensions.Caching.Distributed;
using RedisEdge.ResponseCaching;

namespace RedisEdge.Samples.Api;

/// <summary>
/// Fleet-wide response caching of a slow product endpoint (policy <c>products</c> in appsettings.json:
/// 10 s fresh, 30 s stale-while-revalidate, 60 s stale-if-error, tag <c>product:{id}</c>). Prices and the outage switch
/// live in Redis (through <c>IDistributedCache</c> on RedisEdge's connection), so every instance agrees on them.
/// </summary>
internal static class SampleResponseCaching
{
    public static readonly string Usage =
        """
          GET  /products/{id}                    cached (policy "products"); the origin reads the price, then renders for ~200 ms; renderId is new per execution
          PUT  /products/{id}?price=N            store the price in Redis and evict product:{id} on every instance
          POST /products/origin-outage?on=true   make the origin answer 500 fleet-wide (stale-if-error serves the last good copy)
          GET  /welcome                          cached (policy "pages") but greets from the session: never stored, never shared
        """;

    private const string OutageKey = "sample:products:origin-outage";
    private static readonly TimeSpan OriginLatency = TimeSpan.FromMilliseconds(200);

    public static IRedisEdgeBuilder AddSampleResponseCaching(this IRedisEdgeBuilder builder) =>
        builder.AddDistributedCache().AddResponseCaching();

    public static void MapSampleResponseCaching(this WebApplication app)
    {
        var products = app.MapGroup("/products");

        products.MapGet("/{id:int}", async (int id, IDistributedCache store, CancellationToken cancellationToken) =>
        {
            // Like a query followed by rendering: the data is read first, then the page takes ~200 ms to render.
            var outage = await store.GetStringAsync(OutageKey, cancellationToken) == "on";
            var price = await store.GetStringAsync(PriceKey(id), cancellationToken) is { } stored
                ? decimal.Parse(stored, CultureInfo.InvariantCulture)
                : DefaultPrice(id);
            await Task.Delay(OriginLatency, cancellationToken);
            if (outage)
            {
                return Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Origin outage", detail: "The product origin is switched off (POST /products/origin-outage?on=false).");
            }

            return Results.Ok(new { id, price, renderId = Guid.NewGuid().ToString("N"), renderedAt = DateTimeOffset.UtcNow });
        }).CacheResponse("products");

        products.MapPut("/{id:int}", async (int id, string? price, IDistributedCache store, IRedisResponseCache cache, CancellationToken cancellationToken) =>
        {
            if (!decimal.TryParse(price, NumberStyles.Number, CultureInfo.InvariantCulture, out var value) || value < 0 || value > 1_000_000_000)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid price", detail: "Pass ?price=N with N a number between 0 and 1000000000.");
            }

            await store.SetStringAsync(PriceKey(id), value.ToString(CultureInfo.InvariantCulture), cancellationToken);
            var evicted = await cache.EvictByTagAsync($"product:{id}", cancellationToken);
            return Results.Ok(new { id, price = value, evicted });
        });

        products.MapPost("/origin-outage", async (bool? on, IDistributedCache store, CancellationToken cancellationToken) =>
        {
            if (on is not { } value)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Missing switch", detail: "Pass ?on=true or ?on=false.");
            }

            if (value)
            {
                await store.SetStringAsync(OutageKey, "on", cancellationToken);
            }
            else
            {
                await store.RemoveAsync(OutageKey, cancellationToken);
            }

            return Results.Ok(new { outage = value });
        });

        // A page built from the session (after POST /session/login): the cache notices the session read and never stores
        // it, so one user's greeting is never served to another client.
        app.MapGet("/welcome", (HttpContext context) => Results.Text("hello " + (context.Session.GetString("user") ?? "guest")))
            .CacheResponse("pages");
    }

    private static string PriceKey(int id) => "sample:products:price:" + id.ToString(CultureInfo.InvariantCulture);

    private static decimal DefaultPrice(int id) => 10m + id % 90;
}
