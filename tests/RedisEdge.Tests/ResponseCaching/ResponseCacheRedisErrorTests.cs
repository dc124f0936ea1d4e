using System.Net;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// Redis errors during a lookup or a fill are misses, never a 500 (issue 20, item 11). A script error that is not an
/// outage is forced for real: the fleet connects as its own ACL user, and revoking one command the script calls makes
/// Redis 7 fail the script with an <c>ERR</c> (the scripts treat keys of another type as misses, so foreign data no
/// longer raises <c>WRONGTYPE</c>). Out of memory on a fill is an outage, and is tested as one.
/// </summary>
public abstract class ResponseCacheRedisErrorTests(RedisTestServer redis)
{
    private const string Password = "rc-error-tests";

    [Fact]
    public async Task ALookupFailingWithAScriptError_IsForwardedUncached_LoggedOncePerStateChange_AndOpensNoBreaker()
    {
        var origin = new Origin();
        var logger = new ListLogger();
        await using var user = await AclUser.CreateAsync(redis);
        var fleet = await user.StartFleetAsync(origin, logger);

        // A miss takes the fill lease with HSET, which the user may no longer run; a hit does not write.
        await user.SetAsync("-hset");
        await EachRunsTheOriginAsync(fleet, requests: 6, firstRender: 2, "RedisEdge; fwd=bypass; detail=redis-error");

        Assert.Equal(2, logger.Named("LookupFailed").Count);
        foreach (var instance in fleet.Instances)
        {
            Assert.StartsWith("RedisEdge; hit", (await instance.Client.GetAsync("/items/2")).CacheStatus(), StringComparison.Ordinal);
        }

        // The hits were lookups that succeeded: the next failure is a new state, logged again.
        Assert.Equal("RedisEdge; fwd=bypass; detail=redis-error", (await fleet[0].Client.GetAsync("/items/1")).CacheStatus());
        Assert.Equal(3, logger.Named("LookupFailed").Count);
        Assert.Empty(logger.At(Microsoft.Extensions.Logging.LogLevel.Error));

        await user.SetAsync("+hset");
        Assert.Contains("stored", (await fleet[1].Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", (await fleet[0].Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1 + 7 + 1, origin.Executions);
    }

    [Fact]
    public async Task AFillFailingWithAScriptError_IsServedButNotStored_LoggedOncePerInstance_AndLeavesNoEntryTagEvictionCannotFind()
    {
        var origin = new Origin();
        var logger = new ListLogger();
        await using var user = await AclUser.CreateAsync(redis);
        var fleet = await user.StartFleetAsync(origin, logger);

        // The lookup takes the lease; fill.lua then fails on ZADD (joining the tag and URL sets).
        await user.SetAsync("-zadd");
        await EachRunsTheOriginAsync(fleet, requests: 4, firstRender: 2, "RedisEdge; fwd=uri-miss; fwd-status=200");

        // Nothing of /items/1 was stored (a half-written fill would be a hit that its tags' eviction cannot find), and the
        // lease was given back each time: every request filled at once.
        Assert.Equal(1, await StoredEntriesAsync(fleet));
        Assert.Equal(2, logger.Named("FillScriptFailed").Count);
        foreach (var instance in fleet.Instances)
        {
            Assert.StartsWith("RedisEdge; hit", (await instance.Client.GetAsync("/items/2")).CacheStatus(), StringComparison.Ordinal);
        }

        await user.SetAsync("+zadd");
        Assert.Contains("stored", (await fleet[1].Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1, await fleet[0].Cache().EvictByTagAsync("item:1"));
        Assert.StartsWith("RedisEdge; fwd=uri-miss", (await fleet[0].Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1 + 4 + 2, origin.Executions);
    }

    [Fact]
    public async Task OutOfMemoryOnAFill_TheResponseIsServedNotStored_AndTheLeaseLapsesToTheNextRequest()
    {
        var origin = new Origin { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var settings = new Dictionary<string, string?> { [$"{CacheTestApp.Section}:FillLeaseTimeout"] = "00:00:01" };
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings, instances: 2);
        var filling = fleet[0].Client.GetAsync("/items/1");
        await CacheTestApp.EventuallyAsync(() => origin.Started == 1, "the fill is running");
        var key = Assert.Single(await redis.EntryKeysAsync(fleet));

        // The primary of the entry's slot refuses writes (noeviction, used memory over maxmemory) while the fill lands.
        var server = redis.Admin.GetServer((RedisKey)key);
        var maxmemory = (string)(await server.ConfigGetAsync("maxmemory")).Single().Value;
        var policy = (string)(await server.ConfigGetAsync("maxmemory-policy")).Single().Value;
        HttpResponseMessage first;
        try
        {
            await server.ConfigSetAsync("maxmemory-policy", "noeviction");
            await server.ConfigSetAsync("maxmemory", 1);
            origin.Gate.TrySetResult();
            first = await filling;
            Assert.False(await redis.Database.HashExistsAsync(key, "s"), "nothing was stored");
        }
        finally
        {
            await server.ConfigSetAsync("maxmemory", maxmemory);
            await server.ConfigSetAsync("maxmemory-policy", policy);
        }

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("id=1;render=1;user=anonymous", await first.BodyAsync());
        Assert.Equal("RedisEdge; fwd=uri-miss; fwd-status=200", first.CacheStatus());

        // The lease was given back (DEL is allowed under out-of-memory) or lapses: either way the next request fills.
        var next = await fleet[1].Client.GetAsync("/items/1");
        Assert.Equal("id=1;render=2;user=anonymous", await next.BodyAsync());
        Assert.Contains("stored", next.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(2, origin.Executions);
    }

    /// <summary>
    /// Sends GETs of <c>/items/1</c> to the instances in turn: each is answered 200 by its own origin execution (renders
    /// from <paramref name="firstRender"/> on) with <paramref name="cacheStatus"/>.
    /// </summary>
    private static async Task EachRunsTheOriginAsync(RedisFleet fleet, int requests, int firstRender, string cacheStatus)
    {
        for (var i = 0; i < requests; i++)
        {
            var response = await fleet[i % fleet.Count].Client.GetAsync("/items/1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"id=1;render={firstRender + i};user=anonymous", await response.BodyAsync());
            Assert.Equal(cacheStatus, response.CacheStatus());
        }
    }

    private async Task<int> StoredEntriesAsync(RedisFleet fleet)
    {
        var stored = 0;
        foreach (var key in await redis.EntryKeysAsync(fleet))
        {
            stored += await redis.Database.HashExistsAsync(key, "s") ? 1 : 0;
        }

        return stored;
    }

    /// <summary>An ACL user of the fleet's own, on every node (ACLs are per node), deleted (after its fleet) afterwards.</summary>
    private sealed class AclUser : IAsyncDisposable
    {
        private readonly RedisTestServer _redis;

        private AclUser(RedisTestServer redis, string name)
        {
            _redis = redis;
            Name = name;
        }

        public string Name { get; }

        public string Configuration => $"{_redis.Configuration},user={Name},password={Password}";

        public RedisFleet? Fleet { get; private set; }

        /// <summary>
        /// Two instances connected as this user, with <c>/items/2</c> stored. One counted failure opens their breaker,
        /// so a failure wrongly counted as an outage would show as hits bypassing the cache.
        /// </summary>
        public async Task<RedisFleet> StartFleetAsync(Origin origin, ListLogger logger)
        {
            var settings = new Dictionary<string, string?> { [$"{CacheTestApp.Section}:Failure:BreakAfterFailures"] = "1" };
            Fleet = await CacheTestApp.StartAsync(Configuration, origin, settings, instances: 2, logger: logger);
            Assert.Contains("stored", (await Fleet[0].Client.GetAsync("/items/2")).CacheStatus(), StringComparison.Ordinal);
            return Fleet;
        }

        public static async Task<AclUser> CreateAsync(RedisTestServer redis)
        {
            var user = new AclUser(redis, "rc-" + Guid.NewGuid().ToString("N")[..12]);
            await user.SetAsync("reset", "on", ">" + Password, "~*", "&*", "+@all");
            return user;
        }

        public async Task SetAsync(params string[] rules)
        {
            foreach (var server in _redis.Admin.GetServers())
            {
                await server.ExecuteAsync("ACL", new object[] { "SETUSER", Name }.Concat(rules).ToArray());
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Fleet is not null)
            {
                await Fleet.DisposeAsync();
            }

            foreach (var server in _redis.Admin.GetServers())
            {
                await server.ExecuteAsync("ACL", "DELUSER", Name);
            }
        }
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCacheRedisErrorTestsOnSingleNode(RedisServerFixture redis) : ResponseCacheRedisErrorTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCacheRedisErrorTestsOnCluster(RedisClusterFixture redis) : ResponseCacheRedisErrorTests(redis);
