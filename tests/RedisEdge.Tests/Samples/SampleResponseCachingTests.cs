using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.ResponseCaching;
using StackExchange.Redis;

namespace RedisEdge.Tests.Samples;

/// <summary>The sample's product endpoints as the issue specifies them, with appsettings.json's "products" policy.</summary>
public abstract class SampleResponseCachingTests(RedisTestServer redis)
{
    [Fact]
    public async Task Products_CachedUntilAPriceUpdateEvictsThem_ThenStaleIfErrorDuringAnOutage()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        await using var factory = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        var client = factory.CreateClient();

        var first = await client.GetAsync("/products/7");
        var cached = await client.GetAsync("/products/7");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", cached.CacheStatus(), StringComparison.Ordinal);
        var (firstRender, firstPrice) = await ReadAsync(first);
        Assert.Equal((firstRender, firstPrice), await ReadAsync(cached));

        var put = await client.PutAsync("/products/7?price=42.5", null);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(1, (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("evicted").GetInt64());
        var updated = await client.GetAsync("/products/7");
        var (updatedRender, updatedPrice) = await ReadAsync(updated);
        Assert.Equal(42.5m, updatedPrice);
        Assert.NotEqual(firstRender, updatedRender);

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync("/products/7?price=lots", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/products/origin-outage", null)).StatusCode);

        // Outage: once the entry is past its 10 s, the origin's 500 is replaced by the last good copy for 60 s.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/products/origin-outage?on=true", null)).StatusCode);
        var key = (await redis.KeysAsync(prefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(41));
        var stale = await client.GetAsync("/products/7");
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Contains("detail=stale-if-error", stale.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(updatedRender, (await ReadAsync(stale)).RenderId);

        await redis.AgeAsync(key, TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/products/7")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/products/origin-outage?on=false", null)).StatusCode);
        await redis.Database.KeyDeleteAsync((RedisKey)key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products/7")).StatusCode);
    }

    [Fact]
    public async Task APriceUpdateDuringAColdFillsRender_LeavesNoOldPriceCached_OnAnyInstance()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        await using var a = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        await using var b = SampleApp.Create(redis).WithWebHostBuilder(web => web.UseSetting("RedisEdge:Redis:KeyPrefix", prefix));
        var fleet = new[] { a.CreateClient(), b.CreateClient() };

        // Each instance connects and loads its scripts first, as behind a readiness check: the sample's 250 ms Redis
        // budget is for a warm instance (a loaded CI machine once answered a first, cold PUT with the correct 503).
        foreach (var client in fleet)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/products/899")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PutAsync("/products/899?price=1", null)).StatusCode);
        }

        // The PUT is sent while the cold GET renders. Whether it lands after the GET read the price is up to the
        // scheduler; the attempts go on until one did (the GET answered the old price), and every attempt must leave
        // only the new price cached.
        var raced = false;
        for (var attempt = 0; attempt < 20 && !raced; attempt++)
        {
            var id = 900 + attempt;
            var newPrice = 5000m + attempt;
            var cold = fleet[0].GetAsync($"/products/{id}");
            await Task.Delay(60);
            Assert.Equal(HttpStatusCode.OK, (await fleet[1].PutAsync($"/products/{id}?price={newPrice}", null)).StatusCode);
            var (_, coldPrice) = await ReadAsync(await cold);
            raced = coldPrice != newPrice;

            foreach (var client in fleet.Concat(fleet))
            {
                var later = await client.GetAsync($"/products/{id}");
                Assert.Equal(HttpStatusCode.OK, later.StatusCode);
                Assert.Equal(newPrice, (await ReadAsync(later)).Price);
            }
        }

        Assert.True(raced, "no attempt had the PUT land during the cold GET's render");
    }

    [Fact]
    public async Task WavesOnAFailingOriginWithAStaleCopy_RunItAtMostOncePerInstancePerWave_AndAllGetTheStaleCopy()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        var origins = Enumerable.Range(0, 3).Select(_ => new OriginCounter()).ToArray();
        var fleet = origins.Select(o => SampleApp.Create(redis, prefix, web => web.ConfigureTestServices(o.Wrap))).ToArray();
        try
        {
            var clients = fleet.Select(f => f.CreateClient()).ToArray();
            var first = await clients[0].GetAsync("/products/8");
            Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);
            var (render, _) = await ReadAsync(first);
            Assert.Equal(1, origins.Sum(o => o.Executions));

            // Past its 10 s and its 30 s of stale-while-revalidate, within the 60 s of stale-if-error; the origin fails.
            Assert.Equal(HttpStatusCode.OK, (await clients[1].PostAsync("/products/origin-outage?on=true", null)).StatusCode);
            var key = (await redis.KeysAsync(prefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
            await redis.AgeAsync(key, TimeSpan.FromSeconds(41));

            for (var wave = 0; wave < 3; wave++)
            {
                var before = origins.Select(o => o.Executions).ToArray();
                var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => clients[i % 3].GetAsync("/products/8")));

                foreach (var response in responses)
                {
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    Assert.Equal(render, (await ReadAsync(response)).RenderId);
                }

                var ran = origins.Select((o, i) => o.Executions - before[i]).ToArray();
                Assert.All(ran, n => Assert.InRange(n, 0, 1));
                Assert.InRange(ran.Sum(), 1, 3);

                // The retry interval passes between waves.
                await redis.EndMarkerAsync(key);
            }
        }
        finally
        {
            foreach (var app in fleet)
            {
                await app.DisposeAsync();
            }
        }
    }

    private static async Task<(string RenderId, decimal Price)> ReadAsync(HttpResponseMessage response)
    {
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("renderId").GetString()!, json.GetProperty("price").GetDecimal());
    }
}

/// <summary>
/// Counts the executions of one sample instance's <c>GET /products/{id}</c>: each reads the outage switch first,
/// through the app's <see cref="IDistributedCache"/>, which this wraps.
/// </summary>
internal sealed class OriginCounter
{
    private const string OutageKey = "sample:products:origin-outage";
    private int _executions;

    public int Executions => Volatile.Read(ref _executions);

    public void Wrap(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IDistributedCache));
        services.Remove(registered);
        services.AddSingleton<IDistributedCache>(provider => new Counting(
            (IDistributedCache)(registered.ImplementationInstance
                ?? registered.ImplementationFactory?.Invoke(provider)
                ?? ActivatorUtilities.CreateInstance(provider, registered.ImplementationType!)),
            this));
    }

    private sealed class Counting(IDistributedCache inner, OriginCounter counter) : IDistributedCache
    {
        public byte[]? Get(string key) => inner.Get(Count(key));

        public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => inner.GetAsync(Count(key), token);

        public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => inner.Set(key, value, options);

        public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
            inner.SetAsync(key, value, options, token);

        public void Refresh(string key) => inner.Refresh(key);

        public Task RefreshAsync(string key, CancellationToken token = default) => inner.RefreshAsync(key, token);

        public void Remove(string key) => inner.Remove(key);

        public Task RemoveAsync(string key, CancellationToken token = default) => inner.RemoveAsync(key, token);

        private string Count(string key)
        {
            if (key == OutageKey)
            {
                Interlocked.Increment(ref counter._executions);
            }

            return key;
        }
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class SampleResponseCachingTestsOnSingleNode(RedisServerFixture redis) : SampleResponseCachingTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class SampleResponseCachingTestsOnCluster(RedisClusterFixture redis) : SampleResponseCachingTests(redis);
