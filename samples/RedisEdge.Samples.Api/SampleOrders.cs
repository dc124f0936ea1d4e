namespace RedisEdge.Samples.Api;

/// <summary>
/// <c>POST /orders</c>: an idempotent endpoint. The <c>orders</c> policy (appsettings.json, RedisEdge:Idempotency)
/// requires an Idempotency-Key and scopes keys by the X-Api-Key header; a retry gets the first response back.
/// </summary>
internal static class SampleOrders
{
    public static readonly string Usage =
        """
          POST /orders  {"item":"book","quantity":1}  with Idempotency-Key and X-Api-Key headers: runs once per key;
                        a retry gets the stored 201 (Idempotent-Replayed: true), the same key with another body gets 422
        """;

    public static IRedisEdgeBuilder AddSampleIdempotency(this IRedisEdgeBuilder builder) => builder.AddIdempotency();

    public static WebApplication MapSampleOrders(this WebApplication app)
    {
        var instance = app.Configuration["Sample:InstanceName"] is { Length: > 0 } name ? name : $"{Environment.MachineName}-{Environment.ProcessId}";
        app.MapPost("/orders", async (OrderRequest order) =>
        {
            if (string.IsNullOrWhiteSpace(order.Item) || order.Item.Length > 100 || order.Quantity is < 1 or > 1000)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["order"] = ["item must be 1-100 characters and quantity 1-1000."],
                });
            }

            // The simulated payment. Deliberately not cancelled when the client gives up: a payment that started
            // completes, and the client's retry receives its outcome.
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            var orderId = Guid.NewGuid();
            return Results.Created($"/orders/{orderId}", new OrderCreated(orderId, order.Item, order.Quantity, instance));
        }).WithIdempotency("orders");
        return app;
    }

    internal sealed record OrderRequest(string? Item, int Quantity);

    internal sealed record OrderCreated(Guid OrderId, string Item, int Quantity, string Instance);
}
