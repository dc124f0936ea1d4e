using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Idempotency;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Samples;

[Collection(RedisCollection.Name)]
public sealed class SampleOrdersTests(RedisServerFixture redis)
{
    [Fact]
    public async Task PostOrders_ExecutesOncePerKey_ReplaysRetries_RefusesAReusedKeyWithAnotherBody()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();
        var key = Guid.NewGuid().ToString();

        using var first = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var created = await first.Content.ReadFromJsonAsync<JsonElement>();
        var orderId = created.GetProperty("orderId").GetGuid();
        Assert.Equal($"/orders/{orderId}", first.Headers.Location?.OriginalString);
        Assert.False(string.IsNullOrEmpty(created.GetProperty("instance").GetString()));
        Assert.False(first.IsReplay());

        using var retry = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.True(retry.IsReplay());
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await retry.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);

        using var reused = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":2}""", apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);

        // Another API key is another caller: the same key value is a new order.
        using var other = await client.SendAsync(IdempotencyTestApp.Post("/orders", key, """{"item":"book","quantity":1}""", apiKey: "team-b"));
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        Assert.NotEqual(orderId, (await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());

        using var noKey = await client.SendAsync(IdempotencyTestApp.Post("/orders", null, apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);
        using var noApiKey = await client.SendAsync(IdempotencyTestApp.Post("/orders", Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.BadRequest, noApiKey.StatusCode);
        Assert.Contains("X-Api-Key", await noApiKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstanceStalledPastItsLease_AnotherBodyIs422_AndTheStalledRequestsRetryRunsAtMostOnceMore_OnlyIfItNeverCompleted()
    {
        // The contract of the sample is a 10 s lease; this test shortens it to 1 s so the stall outlasts it quickly.
        await using (var sample = SampleApp.Create(redis))
        {
            Assert.Equal("00:00:10", sample.Services.GetRequiredService<IConfiguration>()["RedisEdge:Idempotency:Policies:orders:Lease"]);
        }

        var prefix = RedisServerFixture.UniquePrefix();
        var stall = new StallableTimeProvider();
        var gates = new ConcurrentDictionary<string, StallGate>();
        await using var a = SampleApp.Create(redis, prefix, web =>
        {
            web.UseSetting("RedisEdge:Idempotency:Policies:orders:Lease", "00:00:01");
            web.UseSetting("Sample:InstanceName", "a");
            web.ConfigureTestServices(services =>
            {
                services.AddSingleton<TimeProvider>(stall);
                services.AddSingleton<IStartupFilter>(new StallFilter(gates));
            });
        });
        await using var b = SampleApp.Create(redis, prefix, web =>
        {
            web.UseSetting("RedisEdge:Idempotency:Policies:orders:Lease", "00:00:01");
            web.UseSetting("Sample:InstanceName", "b");
        });
        var clientA = a.CreateClient();
        var clientB = b.CreateClient();
        const string Order = """{"item":"book","quantity":1}""";
        const string OtherOrder = """{"item":"book","quantity":2}""";

        // 1. Instance a stalls after creating the order, before answering or storing it, past its lease. The same key with
        // another body is refused; the stalled request's own retry runs once more (it never completed), and only once.
        var never = Gate(gates, "k-never");
        var stalled = clientA.SendAsync(IdempotencyTestApp.Post("/orders", "k-never", Order, apiKey: "team-a"));
        await never.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        stall.Stall();
        await WaitForLeaseToExpireAsync(prefix);

        using var reused = await clientB.SendAsync(IdempotencyTestApp.Post("/orders", "k-never", OtherOrder, apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        using var retried = await clientB.SendAsync(IdempotencyTestApp.Post("/orders", "k-never", Order, apiKey: "team-a"));
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.False(retried.IsReplay());
        var retriedOrder = await OrderIdAsync(retried);

        stall.Resume();
        never.Release.SetResult();
        using var late = await stalled.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, late.StatusCode);
        Assert.NotEqual(retriedOrder, await OrderIdAsync(late));
        foreach (var client in new[] { clientA, clientB })
        {
            using var again = await client.SendAsync(IdempotencyTestApp.Post("/orders", "k-never", Order, apiKey: "team-a"));
            Assert.True(again.IsReplay());
            Assert.Equal(retriedOrder, await OrderIdAsync(again));
        }

        // 2. The same stall, but instance a resumes and completes before the retry arrives: the retry replays a's order,
        // nothing runs again, and another body is still refused.
        var completes = Gate(gates, "k-completes");
        var resumed = clientA.SendAsync(IdempotencyTestApp.Post("/orders", "k-completes", Order, apiKey: "team-a"));
        await completes.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        stall.Stall();
        await WaitForLeaseToExpireAsync(prefix);
        using (var refused = await clientB.SendAsync(IdempotencyTestApp.Post("/orders", "k-completes", OtherOrder, apiKey: "team-a")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        }

        stall.Resume();
        completes.Release.SetResult();
        using var original = await resumed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, original.StatusCode);
        using var replay = await clientB.SendAsync(IdempotencyTestApp.Post("/orders", "k-completes", Order, apiKey: "team-a"));
        Assert.True(replay.IsReplay());
        Assert.Equal(await OrderIdAsync(original), await OrderIdAsync(replay));
    }

    private static async Task<Guid> OrderIdAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();

    private static StallGate Gate(ConcurrentDictionary<string, StallGate> gates, string key) => gates.GetOrAdd(key, _ => new StallGate());

    /// <summary>Polls (bounded) until the fleet's one in-flight record's lease has run out on the Redis clock.</summary>
    private async Task WaitForLeaseToExpireAsync(string prefix)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var inFlight = new List<string>();
            foreach (var key in await redis.KeysAsync(prefix + ":" + RedisIdempotencyDefaults.KeyFeature + ":"))
            {
                if ((string?)await redis.Database.HashGetAsync(key, "st") == "r")
                {
                    inFlight.Add(key);
                }
            }

            var record = Assert.Single(inFlight);
            var expiry = (long)await redis.Database.HashGetAsync(record, "exp");
            var parts = (RedisResult[])(await redis.Database.ExecuteAsync("TIME"))!;
            if (expiry <= (long)parts[0] * 1000 + (long)parts[1] / 1000)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail("The stalled instance's lease never ran out.");
    }

    private sealed class StallGate
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Freezes a request of the instance once its handler has run (the order exists) and starts writing the answer: the
    /// write blocks until the test releases it, as a stalled process would, before the response can be stored.
    /// </summary>
    private sealed class StallFilter(ConcurrentDictionary<string, StallGate> gates) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, proceed) =>
            {
                if (context.Request.Headers[RedisIdempotencyDefaults.HeaderName] is [{ } key] && gates.TryGetValue(key, out var gate) && !gate.Entered.Task.IsCompleted)
                {
                    var body = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
                    context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(new StalledStream(body.Stream, gate), body));
                }

                await proceed(context);
            });
            next(app);
        };
    }

    private sealed class StalledStream(Stream inner, StallGate gate) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            gate.Entered.TrySetResult();
            await gate.Release.Task;
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            await gate.Release.Task;
            await inner.FlushAsync(cancellationToken);
        }

        public override void Flush() => throw new NotSupportedException("The sample writes asynchronously.");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The sample writes asynchronously.");

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
