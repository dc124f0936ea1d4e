using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

[Collection(RedisCollection.Name)]
public sealed class IdempotencyMiddlewareTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ReusedKey_WithAnotherBodyQueryPathOrContentType_Is422_AndTheOriginalStillReplays()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/orders", () => Results.Json(new { n = Interlocked.Increment(ref executions) }, statusCode: 201)).WithIdempotency();
            app.MapPost("/other", () => Results.Ok()).WithIdempotency();
        });
        var metrics = fleet[0].Services.GetRequiredService<IdempotencyMetrics>();
        using var mismatches = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisIdempotencyDefaults.MismatchesInstrument);

        Assert.Equal(HttpStatusCode.Created, (await fleet[0].PostAsync("/orders", "k1")).StatusCode);
        var requests = new[]
        {
            IdempotencyTestApp.Post("/orders", "k1", """{"item":"book","quantity":2}"""),
            IdempotencyTestApp.Post("/orders?coupon=1", "k1"),
            IdempotencyTestApp.Post("/other", "k1"),
            IdempotencyTestApp.Post("/orders", "k1", contentType: "text/plain"),
        };
        foreach (var request in requests)
        {
            using var response = await fleet[0].Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            request.Dispose();
        }

        Assert.Equal(4, mismatches.Measurements.Count);
        var replay = await fleet[0].PostAsync("/orders", "k1");
        Assert.True(replay.IsReplay());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task MissingKey_Is400WhenRequired_CostsNoRedisCall_AndRunsUnguardedWhenOptional()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/required", () => Interlocked.Increment(ref executions)).WithIdempotency();
            app.MapPost("/optional", () => Interlocked.Increment(ref executions)).WithIdempotency(configure: a => a.KeyRequired = false);
            app.MapPost("/plain", () => "plain");
        });

        using (var scope = fleet[0].Commands.Begin())
        {
            var missing = await fleet[0].PostAsync("/required", key: null);
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Idempotency-Key", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/optional", key: null)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/optional", key: null)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/plain", key: "ignored")).StatusCode);
            Assert.Empty(scope.Commands);
        }

        Assert.Equal(2, executions);
        Assert.Empty(await redis.RecordKeysAsync(fleet));
    }

    [Fact]
    public async Task HostileKeys_Are400_NeverAServerError_NeverReachRedis()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", () => Interlocked.Increment(ref executions)).WithIdempotency());
        var server = fleet[0].App.GetTestServer();
        string[] hostile =
        [
            "", "\"\"", "a\u0001b", "\"a\u0007b\"", "a\tb", "line\r\nbreak", new string('k', 10 * 1024), "\"" + new string('k', 256) + "\"",
            new string('k', 256), "ключ", "\"ключ\"", "{tag}", "\"{tag}\"", "a}b", "\"unterminated", "\"a\"b", "\"bad\\escape\"", "two words",
        ];

        using var scope = fleet[0].Commands.Begin();
        foreach (var key in hostile)
        {
            // Sent through the test server's context directly, so no client-side header validation softens the value.
            var context = await server.SendAsync(c =>
            {
                c.Request.Method = "POST";
                c.Request.Path = "/orders";
                c.Request.Headers["Idempotency-Key"] = key;
                c.Request.ContentType = "application/json";
                c.Request.Body = new MemoryStream("{}"u8.ToArray());
            });
            Assert.True(context.Response.StatusCode == StatusCodes.Status400BadRequest, $"key of {key.Length} chars answered {context.Response.StatusCode}");
            Assert.StartsWith("application/problem+json", context.Response.ContentType, StringComparison.Ordinal);
        }

        // Two values of the same header are one ambiguous key.
        var twice = await server.SendAsync(c =>
        {
            c.Request.Method = "POST";
            c.Request.Path = "/orders";
            c.Request.Headers["Idempotency-Key"] = new Microsoft.Extensions.Primitives.StringValues(["a", "b"]);
        });
        Assert.Equal(StatusCodes.Status400BadRequest, twice.Response.StatusCode);

        Assert.Empty(scope.Commands);
        Assert.Equal(0, executions);
        Assert.Empty(await redis.RecordKeysAsync(fleet));
    }

    [Fact]
    public async Task AcceptedKeyForms_AreStoredOnlyAsAHash()
    {
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", () => Results.Created("/orders/1", null)).WithIdempotency());
        var max = new string('m', 255);
        string[] keys = ["8e03978e-40d5-43e8-bc93-6894a57f9324", "\"quoted key with spaces \\\"and\\\" escapes\"", max, "\"" + max + "\"", "a:b/c"];
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.Created, (await fleet[0].PostAsync("/orders", key)).StatusCode);
        }

        // The bare and quoted forms of the same key are the same key.
        Assert.True((await fleet[0].PostAsync("/orders", "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"")).IsReplay());

        var stored = await redis.RecordKeysAsync(fleet);
        Assert.Equal(4, stored.Count);
        foreach (var name in stored)
        {
            Assert.Matches($"^{fleet.KeyPrefix}:idem:\\{{[A-Za-z0-9_-]{{43}}\\}}$", name);
        }
    }

    [Fact]
    public async Task HandlerThrows_KeyIsReleased_AndTheRetryExecutes()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", () =>
            {
                if (Interlocked.Increment(ref executions) == 1)
                {
                    throw new InvalidOperationException("payment provider timed out");
                }

                return Results.Created("/orders/2", new { ok = true });
            }).WithIdempotency(), instances: 2);
        var metrics = fleet[0].Services.GetRequiredService<IdempotencyMetrics>();
        using var releases = new MeasurementRecorder<long>(metrics.Telemetry.Meter, RedisIdempotencyDefaults.ReleasesInstrument);

        await Assert.ThrowsAnyAsync<Exception>(() => fleet[0].PostAsync("/orders", "k-throws"));
        Assert.Equal("exception", Assert.Single(releases.Measurements).Tags[RedisIdempotencyDefaults.ReasonTag]);
        Assert.Empty(await redis.RecordKeysAsync(fleet));

        var retry = await fleet[1].PostAsync("/orders", "k-throws");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.False(retry.IsReplay());
        Assert.True((await fleet[0].PostAsync("/orders", "k-throws")).IsReplay());
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task ServerErrorsAndUnlistedStatuses_AreNotStored_SoTheRetryExecutes_While4xxIsReplayed()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/flaky", () => Interlocked.Increment(ref executions) == 1 ? Results.StatusCode(503) : Results.Ok("paid")).WithIdempotency();
            app.MapPost("/invalid", () => { Interlocked.Increment(ref executions); return Results.BadRequest("no such item"); }).WithIdempotency();
            app.MapPost("/narrow", () => { Interlocked.Increment(ref executions); return Results.Accepted(); })
                .WithIdempotency(configure: a => a.StoredStatusCodes = "200-201");
        });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await fleet[0].PostAsync("/flaky", "k5")).StatusCode);
        var retry = await fleet[0].PostAsync("/flaky", "k5");
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.False(retry.IsReplay());
        Assert.True((await fleet[0].PostAsync("/flaky", "k5")).IsReplay());

        Assert.Equal(HttpStatusCode.BadRequest, (await fleet[0].PostAsync("/invalid", "k4")).StatusCode);
        var replayed400 = await fleet[0].PostAsync("/invalid", "k4");
        Assert.Equal(HttpStatusCode.BadRequest, replayed400.StatusCode);
        Assert.True(replayed400.IsReplay());

        Assert.Equal(HttpStatusCode.Accepted, (await fleet[0].PostAsync("/narrow", "k2")).StatusCode);
        Assert.False((await fleet[0].PostAsync("/narrow", "k2")).IsReplay());
        Assert.Equal(5, executions);
    }

    [Fact]
    public async Task Replay_CarriesStatusBodyBytesAndAllowListedHeaders_NeverSetCookie()
    {
        var body = new byte[] { 0, 1, 2, 255, 254, 10, 13 };
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/binary", async (HttpContext context) =>
            {
                context.Response.StatusCode = 202;
                context.Response.ContentType = "application/octet-stream";
                context.Response.Headers.Location = "/jobs/7";
                context.Response.Headers.ETag = "\"v7\"";
                context.Response.Headers.Link = "</jobs/7/status>; rel=\"monitor\"";
                context.Response.Headers["X-Request-Cost"] = "3";
                context.Response.Headers["X-Trace"] = "first-execution-only";
                context.Response.Cookies.Append("session", "secret-of-the-first-caller");

                // Written in pieces, through the stream and the pipe, as endpoints do.
                await context.Response.Body.WriteAsync(body.AsMemory(0, 3));
                await context.Response.BodyWriter.WriteAsync(body.AsMemory(3));
            }).WithIdempotency(),
            configure: o => o.AllowedReplayHeaders.Add("X-Request-Cost"));

        var first = await fleet[0].PostAsync("/binary", "k-bin");
        Assert.True(first.Headers.Contains("Set-Cookie"));
        Assert.Equal(body, await first.Content.ReadAsByteArrayAsync());

        var replay = await fleet[0].PostAsync("/binary", "k-bin");
        Assert.True(replay.IsReplay());
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        Assert.Equal(body, await replay.Content.ReadAsByteArrayAsync());
        Assert.Equal("application/octet-stream", replay.Content.Headers.ContentType?.MediaType);
        Assert.Equal(body.Length, replay.Content.Headers.ContentLength);
        Assert.Equal("/jobs/7", replay.Headers.Location?.OriginalString);
        Assert.Equal("\"v7\"", replay.Headers.ETag?.Tag);
        Assert.Equal("</jobs/7/status>; rel=\"monitor\"", replay.Headers.GetValues("Link").Single());
        Assert.Equal("3", replay.Headers.GetValues("X-Request-Cost").Single());
        Assert.False(replay.Headers.Contains("Set-Cookie"));
        Assert.False(replay.Headers.Contains("X-Trace"));
    }

    [Fact]
    public async Task ResponseOverTheSizeLimit_IsSentWhole_NotStored_AndTheKeyReleased()
    {
        var executions = 0;
        var large = new string('x', 4096);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/export", () => { Interlocked.Increment(ref executions); return Results.Text(large); })
                .WithIdempotency(configure: a => a.MaximumBodySize = 1024));

        var first = await fleet[0].PostAsync("/export", "k-big");
        Assert.Equal(large, await first.Content.ReadAsStringAsync());
        var second = await fleet[0].PostAsync("/export", "k-big");
        Assert.False(second.IsReplay());
        Assert.Equal(large, await second.Content.ReadAsStringAsync());
        Assert.Equal(2, executions);
        Assert.Empty(await redis.RecordKeysAsync(fleet));
    }

    [Fact]
    public async Task RequestBodyOverTheLimit_Is413_WithoutRunningTheHandler()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/orders", () => Interlocked.Increment(ref executions)).WithIdempotency(),
            settings: new() { [$"{IdempotencyTestApp.Section}:MaxRequestBodySize"] = "100" });

        var response = await fleet[0].PostAsync("/orders", "k-413", body: "{\"pad\":\"" + new string('p', 200) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, executions);
    }

    [Fact]
    public async Task TheEndpointReadsTheWholeBody_AfterTheFingerprintReadIt()
    {
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/echo", (Order order) => Results.Json(order)).WithIdempotency());

        var response = await fleet[0].PostAsync("/echo", "k-echo", """{"item":"lamp","quantity":3}""");
        Assert.Equal("""{"item":"lamp","quantity":3}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WaitBehaviour_ReplaysTheFirstResponse_InsteadOfA409()
    {
        var executions = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", async () =>
            {
                var n = Interlocked.Increment(ref executions);
                entered.TrySetResult();
                await hold.Task;
                return Results.Json(new { n }, statusCode: 201);
            }).WithIdempotency(configure: a => { a.InFlight = RedisIdempotencyInFlightBehavior.Wait; a.WaitTimeout = 30; }), instances: 2);

        var first = fleet[0].PostAsync("/orders", "k-wait");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var waiting = fleet[1].PostAsync("/orders", "k-wait");
        await Task.WhenAny(waiting, Task.Delay(300));
        Assert.False(waiting.IsCompleted);
        hold.SetResult();

        var original = await first;
        var replay = await waiting;
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.True(replay.IsReplay());
        Assert.Equal(await original.Content.ReadAsStringAsync(), await replay.Content.ReadAsStringAsync());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task Metrics_CountExecutionsReplaysConflictsAndStoredBytes()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", async () =>
            {
                entered.TrySetResult();
                await hold.Task;
                return Results.Text("12345");
            }).WithIdempotency("checkout"), settings: new() { [$"{IdempotencyTestApp.Section}:Policies:checkout:Lease"] = "00:00:20" });
        var meter = fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter;
        using var executions = new MeasurementRecorder<long>(meter, RedisIdempotencyDefaults.ExecutionsInstrument);
        using var replays = new MeasurementRecorder<long>(meter, RedisIdempotencyDefaults.ReplaysInstrument);
        using var conflicts = new MeasurementRecorder<long>(meter, RedisIdempotencyDefaults.ConflictsInstrument);
        using var stored = new MeasurementRecorder<long>(meter, RedisIdempotencyDefaults.StoredBytesInstrument);

        var first = fleet[0].PostAsync("/orders", "k-m");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var conflict = await fleet[0].PostAsync("/orders", "k-m");
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.InRange(conflict.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 20);
        hold.SetResult();
        await first;
        Assert.True((await fleet[0].PostAsync("/orders", "k-m")).IsReplay());

        Assert.Equal("checkout", Assert.Single(executions.Measurements).Tags[RedisIdempotencyDefaults.PolicyTag]);
        Assert.Single(conflicts.Measurements);
        Assert.Single(replays.Measurements);
        Assert.Equal(5, Assert.Single(stored.Measurements).Value);
    }

    [Fact]
    public async Task DisableIdempotency_Wins_AndSafeMethodsAreNeverGuarded()
    {
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            var group = app.MapGroup("/g").WithIdempotency();
            group.MapPost("/off", () => "off").DisableIdempotency();
            group.MapGet("/read", () => "read");
        });

        using var scope = fleet[0].Commands.Begin();
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/g/off", key: null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].Client.GetAsync("/g/read")).StatusCode);
        Assert.Empty(scope.Commands);
    }

    [Fact]
    public async Task ClientGivesUpMidRequest_TheHandlerCompletes_AndItsRetryGetsTheStoredResponse()
    {
        var executions = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sawAbort = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/payments", async (HttpContext context) =>
            {
                var n = Interlocked.Increment(ref executions);
                entered.TrySetResult();
                await hold.Task;
                sawAbort.TrySetResult(context.RequestAborted.IsCancellationRequested);
                return Results.Json(new { payment = n }, statusCode: 201);
            }).WithIdempotency(), instances: 2);

        // The client times out while the payment runs, as in the story.
        using var timeout = new CancellationTokenSource();
        using var request = IdempotencyTestApp.Post("/payments", "k-timeout");
        var first = fleet[0].Client.SendAsync(request, timeout.Token);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await timeout.CancelAsync();
        hold.SetResult();
        Assert.False(await sawAbort.Task.WaitAsync(TimeSpan.FromSeconds(10)), "The handler saw the client's abort.");
        await Record.ExceptionAsync(() => first.WaitAsync(TimeSpan.FromSeconds(10)));

        // The retry (on another instance) gets the payment's response once it is stored, never a second payment.
        var retry = await fleet[1].PostAsync("/payments", "k-timeout").WaitAsync(TimeSpan.FromSeconds(10));
        for (var attempt = 0; attempt < 100 && retry.StatusCode == HttpStatusCode.Conflict; attempt++)
        {
            await Task.Delay(50);
            retry = await fleet[1].PostAsync("/payments", "k-timeout").WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.True(retry.IsReplay());
        Assert.Equal("{\"payment\":1}", await retry.Content.ReadAsStringAsync());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task NoContentResponses_ReplayWithoutABody()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/cancel", () => { Interlocked.Increment(ref executions); return Results.NoContent(); }).WithIdempotency());

        Assert.Equal(HttpStatusCode.NoContent, (await fleet[0].PostAsync("/cancel", "k-204")).StatusCode);
        var replay = await fleet[0].PostAsync("/cancel", "k-204");
        Assert.Equal(HttpStatusCode.NoContent, replay.StatusCode);
        Assert.True(replay.IsReplay());
        Assert.Empty(await replay.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, executions);
    }

    public sealed record Order(string Item, int Quantity);
}
