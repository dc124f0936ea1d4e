using System.Net;
using Microsoft.AspNetCore.Builder;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Three independent instances over one Redis: one origin execution per key, fleet-wide eviction, stale serving.</summary>
public abstract class ResponseCachingFleetTests(RedisTestServer redis)
{
    [Fact]
    public async Task ThreeInstances100ConcurrentColdRequestsEach_RunTheHandlerExactlyOnce()
    {
        const int perInstance = 100;
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 3, beforeCaching: (app, _) => app.Use(next => context =>
        {
            if (Interlocked.Increment(ref arrived) == 3 * perInstance)
            {
                allArrived.TrySetResult();
            }

            return next(context);
        }));

        var requests = fleet.Instances
            .SelectMany(instance => Enumerable.Range(0, perInstance).Select(_ => instance.Client.GetAsync("/items/cold")))
            .ToList();

        // The origin is held until every request has reached the cache, so all 300 overlap the one fill.
        await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await CacheTestApp.EventuallyAsync(() => origin.Started >= 1, "the fill started");
        origin.Gate.TrySetResult();
        var responses = await Task.WhenAll(requests);

        Assert.Equal(1, origin.Executions);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.BodyAsync()));
        Assert.All(bodies, b => Assert.Equal("id=cold;render=1;user=anonymous", b));
        Assert.Single(responses, r => r.CacheStatus().Contains("stored", StringComparison.Ordinal));
        Assert.Contains(responses, r => r.CacheStatus().Contains("collapsed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EvictingATagOnA_MakesBAndCMissOnTheirNextRequest(bool nearCache)
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 3, nearCache: nearCache);
        var (a, b, c) = (fleet[0], fleet[1], fleet[2]);
        await a.Client.GetAsync("/items/1");
        await a.Client.GetAsync("/items/2");
        foreach (var instance in new[] { b, c })
        {
            foreach (var path in new[] { "/items/1", "/items/2" })
            {
                Assert.Contains("hit", (await instance.Client.GetAsync(path)).CacheStatus(), StringComparison.Ordinal);
                if (nearCache)
                {
                    var again = await instance.Client.GetAsync(path);
                    Assert.Contains("detail=near", again.CacheStatus(), StringComparison.Ordinal);
                }
            }
        }

        Assert.Equal(2, origin.Executions);
        var seenB = b.Near().Invalidations;
        var seenC = c.Near().Invalidations;

        Assert.Equal(2, await a.Cache().EvictByTagAsync("items"));

        if (nearCache)
        {
            // Pub/sub delivery is asynchronous: wait until B and C have processed the eviction, then ask them.
            await CacheTestApp.EventuallyAsync(() => b.Near().Invalidations > seenB && c.Near().Invalidations > seenC, "B and C saw the eviction");
        }

        var fromB = await b.Client.GetAsync("/items/1");
        var fromC = await c.Client.GetAsync("/items/2");
        Assert.StartsWith("RedisEdge; fwd=uri-miss", fromB.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; fwd=uri-miss", fromC.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("id=1;render=3;user=anonymous", await fromB.BodyAsync());
        Assert.Equal("id=2;render=4;user=anonymous", await fromC.BodyAsync());
        Assert.Equal(4, origin.Executions);
    }

    [Fact]
    public async Task EvictByResource_DeletesThatUrlOnly()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        await fleet[0].Client.GetAsync("/items/1?v=1");
        await fleet[0].Client.GetAsync("/items/2");

        Assert.Equal(1, await fleet[1].Cache().EvictAsync("items", "/ITEMS/1?v=1"));

        Assert.Contains("fwd=uri-miss", (await fleet[1].Client.GetAsync("/items/1?v=1")).CacheStatus(), StringComparison.Ordinal);
        Assert.Contains("hit", (await fleet[1].Client.GetAsync("/items/2")).CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterExpiry_WithinStaleWhileRevalidate_StaleIsServedAtOnceAndExactlyOneRefreshRuns()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("Expire", "00:00:10"), ("StaleWhileRevalidate", "00:00:30"), ("Tags:0", "item:{id}"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 3);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));

        // The refresh is held until every stale response has been read in full: if any client had to wait for it, this
        // deadlocks and the bounded wait fails the test. Bodies are read by Content-Length because the test server ends
        // the body stream only when the request pipeline returns (after the refresh); Kestrel ends it at CompleteAsync.
        origin.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var responses = await Task.WhenAll(fleet.Instances.SelectMany(i => Enumerable.Range(0, 10).Select(_ => ReadAtOnceAsync(i.Client, "/items/1"))))
            .WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(responses, r => Assert.Contains("detail=stale-while-revalidate", r.CacheStatus, StringComparison.Ordinal));
        Assert.All(responses, r => Assert.Equal("id=1;render=1;user=anonymous", r.Body));
        await CacheTestApp.EventuallyAsync(() => origin.Started == 2, "the refresh started");
        origin.Gate.TrySetResult();

        string body2 = string.Empty;
        for (var i = 0; i < 200 && !body2.Contains("render=2", StringComparison.Ordinal); i++)
        {
            body2 = await (await fleet[i % 3].Client.GetAsync("/items/1")).BodyAsync();
            await Task.Delay(10);
        }

        Assert.Equal("id=1;render=2;user=anonymous", body2);
        var fresh = await fleet[2].Client.GetAsync("/items/1");
        Assert.StartsWith("RedisEdge; hit; ttl=", fresh.CacheStatus(), StringComparison.Ordinal);
        Assert.DoesNotContain("stale", fresh.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(2, origin.Executions);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(-1)]
    public async Task OriginFailing_StaleIsServedWithinStaleIfError_AndTheErrorAfterIt(int failure)
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("Expire", "00:00:10"), ("StaleIfError", "00:01:00"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        await fleet[0].Client.GetAsync("/items/1");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        origin.Failure = failure;

        foreach (var instance in fleet.Instances)
        {
            for (var i = 0; i < 3; i++)
            {
                var stale = await instance.Client.GetAsync("/items/1");
                Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
                Assert.Equal("id=1;render=1;user=anonymous", await stale.BodyAsync());
                Assert.Contains("detail=stale-if-error", stale.CacheStatus(), StringComparison.Ordinal);
            }
        }

        await redis.AgeAsync(key, TimeSpan.FromSeconds(60));
        foreach (var instance in fleet.Instances)
        {
            if (failure == -1)
            {
                await Assert.ThrowsAsync<InvalidOperationException>(() => instance.Client.GetAsync("/items/1"));
            }
            else
            {
                var error = await instance.Client.GetAsync("/items/1");
                Assert.Equal(HttpStatusCode.InternalServerError, error.StatusCode);
                Assert.DoesNotContain("render=1", await error.BodyAsync(), StringComparison.Ordinal);
            }
        }

        origin.Failure = 0;
    }

    [Fact]
    public async Task AuthorizationRequest_IsNeverServedAnotherUsersResponse()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        var anonymous = await (await fleet[0].Client.GetAsync("/items/1")).BodyAsync();

        // A policy that does not vary by user neither serves nor stores for a request with credentials.
        var bob = await Send(fleet[1], "/items/1", "bob");
        Assert.Equal("id=1;render=2;user=bob", await bob.BodyAsync());
        Assert.Equal("RedisEdge; fwd=bypass; detail=authorization", bob.CacheStatus());
        Assert.Equal(anonymous, await (await fleet[1].Client.GetAsync("/items/1")).BodyAsync());
        using (var raw = new HttpRequestMessage(HttpMethod.Get, "/items/1"))
        {
            raw.Headers.TryAddWithoutValidation("Authorization", "Basic Ym9iOnNlY3JldA==");
            var unauthenticated = await fleet[0].Client.SendAsync(raw);
            Assert.Equal("RedisEdge; fwd=bypass; detail=authorization", unauthenticated.CacheStatus());
        }

        // A policy that varies by user keeps one entry per user.
        var alice1 = await (await Send(fleet[0], "/user/1", "alice")).BodyAsync();
        var bob1 = await (await Send(fleet[1], "/user/1", "bob")).BodyAsync();
        var alice2 = await (await Send(fleet[1], "/user/1", "alice")).BodyAsync();
        var bob2 = await (await Send(fleet[0], "/user/1", "bob")).BodyAsync();
        Assert.EndsWith("user=alice", alice1, StringComparison.Ordinal);
        Assert.EndsWith("user=bob", bob1, StringComparison.Ordinal);
        Assert.Equal(alice1, alice2);
        Assert.Equal(bob1, bob2);
        Assert.NotEqual(await (await fleet[0].Client.GetAsync("/user/1")).BodyAsync(), alice1);

        static async Task<HttpResponseMessage> Send(RedisFleetInstance instance, string path, string user)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("Authorization", "Test " + user);
            return await instance.Client.SendAsync(request);
        }
    }

    private static async Task<(HttpStatusCode Status, string CacheStatus, string Body)> ReadAtOnceAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        var length = (int)response.Content.Headers.ContentLength!.Value;
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[length];
        await stream.ReadExactlyAsync(buffer);
        return (response.StatusCode, response.CacheStatus(), System.Text.Encoding.UTF8.GetString(buffer));
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
[Trait(ParityTrait.Name, ParityTrait.Value)]
public sealed class ResponseCachingFleetTestsOnSingleNode(RedisServerFixture redis) : ResponseCachingFleetTests(redis);

/// <summary>The same tests on a six-node Redis Cluster (every key of a policy in one slot, pub/sub across nodes).</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCachingFleetTestsOnCluster(RedisClusterFixture redis) : ResponseCachingFleetTests(redis);
