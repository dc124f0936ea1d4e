using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

[Collection(RedisCollection.Name)]
public sealed class IdempotencyMvcTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ControllerAndActionAttributes_TheActionWins_DisableWins_AndObjectResultsReplayAsBytes()
    {
        IdempotencyMvcTestController.Executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapControllers(),
            settings: new() { [$"{IdempotencyTestApp.Section}:Policies:lenient:KeyRequired"] = "false" },
            services: (builder, _) => builder.Services.AddControllers().AddApplicationPart(typeof(IdempotencyMvcTestController).Assembly));

        // Controller-level [Idempotent]: key required.
        Assert.Equal(HttpStatusCode.BadRequest, (await fleet[0].PostAsync("/mvc-idem/orders", key: null)).StatusCode);
        var created = await fleet[0].PostAsync("/mvc-idem/orders", "mvc-1");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var replay = await fleet[0].PostAsync("/mvc-idem/orders", "mvc-1");
        Assert.True(replay.IsReplay());
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.Equal(created.Content.Headers.ContentType, replay.Content.Headers.ContentType);
        Assert.Equal(await created.Content.ReadAsByteArrayAsync(), await replay.Content.ReadAsByteArrayAsync());
        Assert.Equal(created.Headers.Location, replay.Headers.Location);

        // The controller's typed Retention = 3600 (seconds) is the record's lifetime, not the 24-hour default.
        var record = Assert.Single(await redis.RecordKeysAsync(fleet));
        var ttl = await redis.Admin.GetDatabase().KeyTimeToLiveAsync(record);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3600));

        // The action's [Idempotent(Policy = "lenient")] replaces the controller's: no key needed.
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/mvc-idem/quotes", key: null)).StatusCode);

        // [DisableIdempotency] wins over the controller's attribute.
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/mvc-idem/ping", key: null)).StatusCode);
        Assert.Equal(3, IdempotencyMvcTestController.Executions);
    }
}

[ApiController]
[Route("mvc-idem")]
[Idempotent(Lease = 30, Retention = 3600)]
public sealed class IdempotencyMvcTestController : ControllerBase
{
    private static int _executions;

    public static int Executions
    {
        get => Volatile.Read(ref _executions);
        set => Volatile.Write(ref _executions, value);
    }

    [HttpPost("orders")]
    public IActionResult Create(IdempotencyMiddlewareTests.Order order)
    {
        var n = Interlocked.Increment(ref _executions);
        return CreatedAtAction(nameof(Get), new { id = n }, new { id = n, order.Item, order.Quantity });
    }

    [HttpGet("orders/{id:int}")]
    public IActionResult Get(int id) => Ok(new { id });

    [Idempotent(Policy = "lenient")]
    [HttpPost("quotes")]
    public IActionResult Quote()
    {
        Interlocked.Increment(ref _executions);
        return Ok(new { price = 10 });
    }

    [DisableIdempotency]
    [HttpPost("ping")]
    public IActionResult Ping()
    {
        Interlocked.Increment(ref _executions);
        return Ok("pong");
    }
}
