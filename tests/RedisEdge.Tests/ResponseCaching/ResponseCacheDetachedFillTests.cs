using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// A refresh, and a fill whose client has gone, run detached from the client: they finish and store, they always give
/// their lease back, and a refresh never holds up the next request on the same connection.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheDetachedFillTests(RedisServerFixture redis)
{
    [Fact]
    public async Task AColdFillWhoseClientHasGone_FinishesAndIsStored()
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, []);
        using var gone = new CancellationTokenSource();
        var filling = fleet[0].Client.GetAsync("/items/1", gone.Token);
        await CacheTestApp.EventuallyAsync(() => origin.Started == 1, "the fill is running");
        await gone.CancelAsync();

        // The test server answers the cancelled client only once the pipeline returns, so the origin is released first.
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        origin.Gate.TrySetResult();
        try
        {
            await filling;
        }
        catch (OperationCanceledException)
        {
            // The client has gone.
        }

        await CacheTestApp.EventuallyAsync(() => redis.Database.HashExists(key, "s"), "the fill was stored");
        var hit = await fleet[0].Client.GetAsync("/items/1");
        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("id=1;render=1;user=anonymous", await hit.BodyAsync());
        Assert.Equal(1, origin.Started);
    }

    [Fact]
    public async Task ARefreshThatEndsInOperationCanceled_ReleasesItsLease()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("TimeToLive", "00:00:10"), ("StaleWhileRevalidate", "00:00:30"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));

        // The client reads its stale response and goes away while the refresh is held; then the refresh gives up with an
        // OperationCanceledException of its own.
        origin.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stale = await fleet[0].Client.GetAsync("/items/1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Contains("detail=stale-while-revalidate", stale.CacheStatus(), StringComparison.Ordinal);
        await CacheTestApp.EventuallyAsync(() => origin.Started == 2, "the refresh is running");
        Assert.True(await redis.Database.HashExistsAsync(key, "l"), "the refresh holds the lease");
        stale.Dispose();
        origin.Failure = -2;
        origin.Gate.TrySetResult();

        await CacheTestApp.EventuallyAsync(() => !redis.Database.HashExists(key, "l"), "the lease was released");
    }

    [Fact]
    public async Task TheRefresh_DoesNotDelayTheNextRequestOnTheSameConnection()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = prefix,
        });
        builder.Services.AddRedisEdge().AddResponseCaching(o => o.AddPolicy("items", p =>
        {
            p.TimeToLive = TimeSpan.FromSeconds(10);
            p.StaleWhileRevalidate = TimeSpan.FromSeconds(30);
        }));
        await using var app = builder.Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var renders = 0;
        var refreshing = false;
        app.UseRedisResponseCaching();
        app.MapGet("/items/{id}", async (string id) =>
        {
            var render = Interlocked.Increment(ref renders);
            if (id == "1" && Volatile.Read(ref refreshing))
            {
                await gate.Task;
            }

            return $"{id}:{render}";
        }).CacheResponse("items");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        // One connection: the second request can only be read once the first has left the pipeline.
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(address) };
        Assert.Equal("1:1", await client.GetStringAsync("/items/1"));
        var key = (await redis.KeysAsync(prefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        Volatile.Write(ref refreshing, true);

        try
        {
            Assert.Equal("1:1", await client.GetStringAsync("/items/1").WaitAsync(TimeSpan.FromSeconds(30)));
            await CacheTestApp.EventuallyAsync(() => Volatile.Read(ref renders) == 2, "the refresh is running");

            // The refresh is still held: the next request on the connection must not wait for it.
            var next = await client.GetStringAsync("/items/2").WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal("2:3", next);
        }
        finally
        {
            gate.TrySetResult();
        }

        await app.StopAsync();
    }
}
