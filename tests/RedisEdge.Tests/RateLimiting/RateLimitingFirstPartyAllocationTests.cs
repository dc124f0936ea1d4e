using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// Bytes allocated per accepted request by a RedisEdge policy under the first-party middleware
/// (<c>UseRateLimiter()</c> + <c>AddRedisEdgePolicy</c>), next to the same policy under <c>UseRedisRateLimiting()</c>,
/// each measured as the difference to a plain endpoint in the same pipeline, counted (not timed) as
/// <see cref="RateLimitingAllocationTests"/> does, in its collection (which runs alone).
/// </summary>
/// <remarks>
/// Issue 24 asks the first-party path to be within reach of RedisEdge's own middleware. What the first-party
/// middleware itself needs when the acquisition completes asynchronously (the state machines of its
/// <c>InvokeInternal</c>, <c>TryAcquireAsync</c> and <c>CombinedWaitAsync</c>) is not ours to remove. Measured here:
/// 672 B over the own middleware before (a boxed struct partition key per <c>GetPartition</c>, twice per request, a
/// new granted lease, a state machine holding the whole acquisition), 472 B after. The budget (own + 500 B) fails if
/// the key boxing or the per-request granted lease comes back.
/// </remarks>
[Collection(RateLimitingAllocationTests.Name)]
public sealed class RateLimitingFirstPartyAllocationTests(RedisServerFixture redis, ITestOutputHelper output)
{
    [Fact]
    public async Task AcceptedRequest_ThroughUseRateLimiterWithARedisEdgePolicy_AllocatesAboutWhatUseRedisRateLimitingDoes()
    {
        await using var multiplexer = await redis.ConnectAsync();
        var builder = RateLimitingAllocationTests.CreateBuilder(multiplexer);
        builder.Services.AddRateLimiter(o => o.AddRedisEdgePolicy("open"));
        await using var app = builder.Build();

        var pipeline = new ApplicationBuilder(app.Services);
        pipeline.UseRouting();
        pipeline.UseRateLimiter();
        pipeline.UseRedisRateLimiting();
        pipeline.UseEndpoints(e =>
        {
            e.MapGet("/plain", () => "ok");
            e.MapGet("/own", () => "ok").RequireRateLimit("open");
            e.MapGet("/first-party", () => "ok").RequireRateLimiting("open");
        });
        var requestDelegate = pipeline.Build();

        var plain = await RateLimitingAllocationTests.MeasureAsync(requestDelegate, app.Services, multiplexer, "/plain", 200);
        var own = await RateLimitingAllocationTests.MeasureAsync(requestDelegate, app.Services, multiplexer, "/own", 200);
        var firstParty = await RateLimitingAllocationTests.MeasureAsync(requestDelegate, app.Services, multiplexer, "/first-party", 200);

        // One script call per accepted request through either middleware (a heartbeat may add one or two).
        Assert.InRange(plain.RoundTrips, 0, 2);
        Assert.InRange(own.RoundTrips, RateLimitingAllocationTests.Requests, RateLimitingAllocationTests.Requests + 2);
        Assert.InRange(firstParty.RoundTrips, RateLimitingAllocationTests.Requests, RateLimitingAllocationTests.Requests + 2);

        var ownBytes = own.BytesPerRequest - plain.BytesPerRequest;
        var firstPartyBytes = firstParty.BytesPerRequest - plain.BytesPerRequest;
        output.WriteLine($"Bytes per accepted request over a plain one: UseRedisRateLimiting {ownBytes:F0}, UseRateLimiter + AddRedisEdgePolicy {firstPartyBytes:F0}.");
        Assert.True(
            firstPartyBytes <= ownBytes + 500,
            $"The first-party path allocated {firstPartyBytes:F0} B per accepted request, RedisEdge's own middleware {ownBytes:F0} B (budget own + 500 B).");
    }
}
