using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Idempotency;

[Collection(RedisCollection.Name)]
public sealed class IdempotencyFailureTests(RedisServerFixture redis)
{
    // A port nothing listens on: every script call fails fast with a connection error.
    private static Dictionary<string, string?> Unreachable(string? mode)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = "127.0.0.1:1,abortConnect=false,connectTimeout=200,connectRetry=0",
            [$"{IdempotencyTestApp.Section}:Failure:Timeout"] = "00:00:00.200",
            [$"{IdempotencyTestApp.Section}:Failure:BreakAfterFailures"] = "2",
            [$"{IdempotencyTestApp.Section}:Failure:BreakDuration"] = "00:00:30",
        };
        if (mode is not null)
        {
            settings[$"{IdempotencyTestApp.Section}:Failure:Mode"] = mode;
        }

        return settings;
    }

    [Fact]
    public async Task RedisUnreachable_Answers503WithRetryAfter_ByDefault_AndNeverRunsTheHandler()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => Interlocked.Increment(ref executions)).WithIdempotency(),
            settings: Unreachable(mode: null));
        using var errors = new MeasurementRecorder<long>(
            fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter, RedisIdempotencyDefaults.RedisErrorsInstrument);

        var retryAfters = new List<double>();
        for (var i = 0; i < 4; i++)
        {
            var response = await fleet[0].PostAsync("/payments", "k-down");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            retryAfters.Add(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds);
        }

        Assert.Equal(0, executions);
        Assert.All(retryAfters, s => Assert.True(s >= 1));

        // Once the breaker is open, Retry-After is when it lets a probe through, not a blind second.
        Assert.True(retryAfters[^1] > 1, $"Retry-After {retryAfters[^1]} s while the breaker is open for 30 s.");
        Assert.All(errors.Measurements, m => Assert.Equal("fail_closed", m.Tags[RedisIdempotencyDefaults.ReasonTag]));
        Assert.Equal(4, errors.Measurements.Count);
    }

    [Fact]
    public async Task FailOpen_RunsTheHandlerUnguarded()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => Interlocked.Increment(ref executions)).WithIdempotency(),
            settings: Unreachable("FailOpen"));

        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/payments", "k-open")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/payments", "k-open")).StatusCode);
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task RedisStopsAfterTheClaim_TheHandlersResponseStillReachesTheCaller()
    {
        await using var server = await RedisServerProcess.StartAsync();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using var fleet = await RedisFleet.StartAsync(
            server.Configuration,
            1,
            // A timeout that a loaded machine's first claim cannot hit (CI once 503'd the claim at 300 ms),
            // and that still bounds the failed completion after the kill.
            (builder, _) => builder.Services.AddRedisEdge().AddIdempotency(o => o.Failure.Timeout = TimeSpan.FromSeconds(2)),
            (app, _) =>
            {
                app.Use(IdempotencyTestApp.AuthenticateAsync);
                app.UseRedisIdempotency();
                app.MapPost("/payments", async () =>
                {
                    if (Interlocked.Increment(ref calls) > 1)
                    {
                        entered.TrySetResult();
                        await hold.Task;
                    }

                    return Microsoft.AspNetCore.Http.Results.Created("/payments/1", new { paid = true });
                }).WithIdempotency();
            });

        // Warm the connection and the scripts so the claim below is an ordinary one.
        Assert.Equal(HttpStatusCode.Created, (await fleet[0].PostAsync("/payments", "k-warm")).StatusCode);

        var request = fleet[0].PostAsync("/payments", "k-mid");
        var first = await Task.WhenAny(entered.Task, request).WaitAsync(TimeSpan.FromSeconds(30));
        if (first != entered.Task)
        {
            Assert.Fail($"The claim did not reach the handler: {(await request).StatusCode}");
        }
        await server.KillAsync();
        hold.SetResult();

        // The side effect happened: the caller gets its answer even though it could not be stored.
        var response = await request;
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("""{"paid":true}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RedisOutOfMemory_Answers503WithRetryAfter_AndNeverRunsTheHandler()
    {
        await using var server = await RedisServerProcess.StartAsync();
        var options = ConfigurationOptions.Parse(server.Configuration);
        options.AllowAdmin = true;
        await using var admin = await ConnectionMultiplexer.ConnectAsync(options);
        var executions = 0;
        await using var fleet = await RedisFleet.StartAsync(
            server.Configuration,
            1,
            (builder, _) => builder.Services.AddRedisEdge().AddIdempotency(o => o.Failure.Timeout = TimeSpan.FromSeconds(5)),
            (app, _) =>
            {
                app.Use(IdempotencyTestApp.AuthenticateAsync);
                app.UseRedisIdempotency();
                app.MapPost("/payments", () => Interlocked.Increment(ref executions)).WithIdempotency();
            });
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/payments", "k-before")).StatusCode);

        await admin.GetDatabase().ExecuteAsync("EVAL", "redis.call('SET', KEYS[1], string.rep('x', 2097152))", 1, "ballast");
        var config = admin.GetServer(admin.GetEndPoints()[0]);
        await config.ConfigSetAsync("maxmemory-policy", "noeviction");
        await config.ConfigSetAsync("maxmemory", "1mb");

        var refused = await fleet[0].PostAsync("/payments", "k-oom");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(1, executions);

        await config.ConfigSetAsync("maxmemory", "0");
        Assert.Equal(HttpStatusCode.OK, (await fleet[0].PostAsync("/payments", "k-oom")).StatusCode);
        Assert.Equal(2, executions);
    }
}
