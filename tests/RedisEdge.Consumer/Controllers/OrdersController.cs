using Microsoft.AspNetCore.Mvc;
using RedisEdge.Idempotency;

namespace RedisEdge.Consumer.Controllers;

[ApiController]
[Route("orders")]
public sealed class OrdersController : ControllerBase
{
    private static int s_executions;

    public sealed record OrderRequest(string Item, int Quantity);

    [HttpPost]
    [Idempotent]
    public IActionResult Create(OrderRequest order)
    {
        var execution = Interlocked.Increment(ref s_executions);
        return Created($"/orders/{execution}", new { execution, order.Item, order.Quantity });
    }
}
