using System.Net;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// A refresh, and a fill whose client has gone, run detached from the client: they finish and store, they always give
/// their lease back, and a refresh never holds up the next request on the same connection.
/// </summary>
public abstract class ResponseCacheDetachedFillTests(RedisTestServer redis)
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
            .Policy("items", ("Expire", "00:00:10"), ("StaleWhileRevalidate", "00:00:30"));
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
        await using var app = await KestrelSwrApp.StartAsync(redis, heldId: "1");

        // One connection: the second request can only be read once the first has left the pipeline.
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = app.Address };
        Assert.Equal("1:1", await client.GetStringAsync("/items/1"));
        var key = (await redis.KeysAsync(app.KeyPrefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        app.Hold();

        try
        {
            Assert.Equal("1:1", await client.GetStringAsync("/items/1").WaitAsync(TimeSpan.FromSeconds(30)));
            await CacheTestApp.EventuallyAsync(() => app.Renders == 2, "the refresh is running");

            // The refresh is still held: the next request on the connection must not wait for it.
            var next = await client.GetStringAsync("/items/2").WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal("2:3", next);
        }
        finally
        {
            app.Gate.TrySetResult();
        }
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheDetachedFillTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheDetachedFillTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheDetachedFillTestsOnCluster(RedisClusterFixture redis) : ResponseCacheDetachedFillTests(redis);
