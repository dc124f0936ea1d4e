using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>The feature's requests counter and duration histogram: one measurement each per request, with the documented results.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingTelemetryTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Requests_CountedOncePerRequest_ByPolicyAndResult_WithADuration()
    {
        await using var fleet = await CacheTestApp.StartAsync(redis, new Origin(), []);
        var meter = fleet[0].Services.GetRequiredService<ResponseCachingMetrics>().Telemetry.Meter;
        using var requests = new MeasurementRecorder<long>(meter, RedisResponseCachingDefaults.RequestsInstrument);
        using var durations = new MeasurementRecorder<double>(meter, RedisResponseCachingDefaults.RequestDurationInstrument);

        await fleet[0].Client.GetAsync("/items/1");   // miss (this request fills)
        await fleet[0].Client.GetAsync("/items/1");   // hit
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/items/1"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "x");
            await fleet[0].Client.SendAsync(request);   // bypass: credentials on a policy that does not vary by user
        }

        string[] expected = ["miss", "hit", "bypass"];
        Assert.Equal(expected, requests.Measurements.Select(m => (string)m.Tags[RedisResponseCachingDefaults.ResultTag]!));
        Assert.All(requests.Measurements, m => Assert.Equal("items", m.Tags[RedisResponseCachingDefaults.PolicyTag]));
        Assert.Equal(expected, durations.Measurements.Select(m => (string)m.Tags[RedisResponseCachingDefaults.ResultTag]!));
        Assert.All(durations.Measurements, m => Assert.True(m.Value >= 0));
    }
}
