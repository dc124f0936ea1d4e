using Microsoft.AspNetCore.Mvc;
using RedisEdge.Idempotency;
using RedisEdge.RateLimiting;
using RedisEdge.ResponseCaching;

namespace RedisEdge.Samples.Api.Controllers;

/// <summary>
/// The attribute-first way, as an MVC app writes it: the same features as the minimal-API endpoints, declared with
/// attributes on a controller and its actions. The most specific declaration wins (an action's over its controller's),
/// and a <c>Disable…</c> attribute always wins.
/// </summary>
[ApiController]
[Route("catalog")]
[RateLimit("sliding-log")]                 // every action: 10 per minute per client IP, fleet-wide
public sealed class CatalogController : ControllerBase
{
    internal const string Usage =
        """
          GET  /catalog/{id}     MVC: [CacheResponse("products")] on the action, [RateLimit("sliding-log")] on the controller
          POST /catalog/orders   MVC: [Idempotent(Policy = "orders")] (Idempotency-Key and X-Api-Key headers), same policy as POST /orders
          GET  /catalog/status   MVC: [DisableRateLimit] lifts the controller's limit for this action
        """;

    private static readonly string s_instance = $"{Environment.MachineName}-{Environment.ProcessId}";

    [HttpGet("{id:int}")]
    [CacheResponse("products")]            // one execution per id for the whole fleet; tagged product:{id}
    public async Task<IActionResult> Get(int id, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);   // the slow part the cache saves
        return Ok(new { id, name = $"item {id}", renderId = Guid.NewGuid().ToString("N"), instance = s_instance });
    }

    [HttpPost("orders")]
    [Idempotent(Policy = "orders")]        // runs once per key for the fleet; a retry gets the stored 201
    public async Task<IActionResult> Order(CatalogOrder order)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(100));                      // the simulated payment
        var orderId = Guid.NewGuid();
        return Created($"/catalog/orders/{orderId}", new { orderId, order.Item, order.Quantity, instance = s_instance });
    }

    [HttpGet("status")]
    [DisableRateLimit]
    public IActionResult Status() => Ok(new { status = "ok", instance = s_instance });

    public sealed record CatalogOrder(string Item, int Quantity);
}
