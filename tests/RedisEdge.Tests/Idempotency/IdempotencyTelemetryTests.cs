using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>The feature's requests counter and duration histogram: one measurement each per request, with the documented results.</summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyTelemetryTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Requests_CountedOncePerRequest_ByPolicyAndResult_WithADuration()
    {
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
            app.MapPost("/orders", () => Results.Json(new { ok = true }, statusCode: 201)).WithIdempotency());
        var meter = fleet[0].Services.GetRequiredService<IdempotencyMetrics>().Telemetry.Meter;
        using var requests = new MeasurementRecorder<long>(meter, RedisIdempotencyDefaults.RequestsInstrument);
        using var durations = new MeasurementRecorder<double>(meter, RedisIdempotencyDefaults.RequestDurationInstrument);

        await fleet[0].PostAsync("/orders", "k1");                                            // executed
        await fleet[0].PostAsync("/orders", "k1");                                            // replayed
        await fleet[0].PostAsync("/orders", "k1", """{"item":"pen","quantity":9}""");        // mismatch
        await fleet[0].PostAsync("/orders", key: null);                                       // rejected: no key

        string[] expected = ["executed", "replayed", "mismatch", "rejected"];
        Assert.Equal(expected, requests.Measurements.Select(m => (string)m.Tags[RedisIdempotencyDefaults.ResultTag]!));
        Assert.All(requests.Measurements, m => Assert.Equal(1, m.Value));
        Assert.All(requests.Measurements, m => Assert.Equal("default", m.Tags[RedisIdempotencyDefaults.PolicyTag]));
        Assert.Equal(expected, durations.Measurements.Select(m => (string)m.Tags[RedisIdempotencyDefaults.ResultTag]!));
        Assert.All(durations.Measurements, m => Assert.True(m.Value >= 0));
    }
}
