using System.Net;
using System.Net.Sockets;
using RedisEdge.Testing;
using StackExchange.Redis;

namespace RedisEdge.Tests.Testing;

/// <summary>
/// The embedded server RedisEdge.Testing gives users' tests and the sample's dev mode. Not a replacement for the
/// suite's redis-server: these tests cover the server itself; the parity run (scripts/test.sh) runs the fleet tests on it.
/// </summary>
public sealed class RedisEdgeTestServerTests
{
    // Reads the counter, spends a while calling Redis (widening the window in which an unisolated script on another
    // connection can read the same value), then writes it back plus one. Isolated scripts never lose an increment.
    private const string ReadModifyWrite = """
        local value = tonumber(redis.call('GET', KEYS[1]) or '0')
        for i = 1, tonumber(ARGV[1]) do redis.call('EXISTS', KEYS[1]) end
        redis.call('SET', KEYS[1], value + 1)
        return value + 1
        """;

    private const int Connections = 4;
    private const int ScriptsPerConnection = 25;
    private const int CallsPerScript = 2000;

    [Fact]
    public async Task StartAsync_ServesLuaWithTheServerClock_OnALoopbackPort()
    {
        await using var server = await RedisEdgeTestServer.StartAsync();
        Assert.Equal($"127.0.0.1:{server.Port}", server.Configuration);

        await using var redis = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
        var result = (RedisValue[])(await redis.GetDatabase().ScriptEvaluateAsync(
            """
            local now = redis.call('TIME')
            redis.call('HSET', KEYS[1], 'at', now[1])
            return { redis.call('HGET', KEYS[1], 'at'), now[1] }
            """,
            ["{t}:h"]))!;
        Assert.Equal(result[1], result[0]);
        Assert.True((long)result[0] > 1_700_000_000, $"TIME returned {result[0]}");
    }

    /// <summary>The first script a Garnet process runs is slow; StartAsync runs one so an app's first request is not it.</summary>
    [Fact]
    public async Task StartAsync_ReturnsAfterTheServerHasRunAScript()
    {
        await using var server = await RedisEdgeTestServer.StartAsync();
        var options = ConfigurationOptions.Parse(server.Configuration);
        options.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);

        var stats = (await redis.GetServer(redis.GetEndPoints()[0]).InfoAsync("commandstats")).SelectMany(g => g).ToList();

        Assert.StartsWith("calls=1,", Assert.Single(stats, kv => kv.Key == "cmdstat_eval").Value, StringComparison.Ordinal);
        Assert.False(await redis.GetDatabase().KeyExistsAsync("{redisedge-testing}:warm-up"));
    }

    /// <summary>Garnet reports no command stats unless started with them; RedisEdge's round-trip tests count with them.</summary>
    [Fact]
    public async Task InfoCommandStats_CountsEvalsha_AsRedisDoes()
    {
        await using var server = await RedisEdgeTestServer.StartAsync();
        var options = ConfigurationOptions.Parse(server.Configuration);
        options.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var db = redis.GetDatabase();
        var script = LuaScript.Prepare("return redis.call('INCR', @key)");
        await db.ScriptEvaluateAsync(script, new { key = (RedisKey)"{s}:n" }); // loads the script

        var before = await EvalshaCallsAsync(redis);
        await db.ScriptEvaluateAsync(script, new { key = (RedisKey)"{s}:n" });
        await db.ScriptEvaluateAsync(script, new { key = (RedisKey)"{s}:n" });

        Assert.Equal(2, await EvalshaCallsAsync(redis) - before);
        Assert.Equal(3, (long)await db.StringGetAsync("{s}:n"));
    }

    [Fact]
    public async Task ConcurrentReadModifyWriteScriptsOnOneKey_NeverInterleave_NoIncrementIsLost()
    {
        await using var server = await RedisEdgeTestServer.StartAsync();

        var final = await RunConcurrentIncrementsAsync(server.Configuration);

        Assert.Equal(Connections * ScriptsPerConnection, final);
    }

    /// <summary>
    /// The control for the test above: the same scripts on a server started without <c>--lua-transaction-mode</c>
    /// interleave and lose increments, so the test above would fail if RedisEdgeTestServer dropped the mode.
    /// </summary>
    [Fact]
    public async Task WithoutLuaTransactionMode_TheSameScriptsInterleave_AndLoseIncrements()
    {
        await using var server = await RedisEdgeTestServer.StartAsync(luaTransactionMode: false, CancellationToken.None);

        var final = await RunConcurrentIncrementsAsync(server.Configuration);

        Assert.True(final < Connections * ScriptsPerConnection, $"expected lost increments without transaction mode, got {final}");
    }

    [Fact]
    public async Task TwoServers_GetTheirOwnPortsAndData_AndDisposeFreesThePort()
    {
        var first = await RedisEdgeTestServer.StartAsync();
        await using var second = await RedisEdgeTestServer.StartAsync();
        Assert.NotEqual(first.Port, second.Port);

        await using (var redis = await ConnectionMultiplexer.ConnectAsync(first.Configuration))
        {
            await redis.GetDatabase().StringSetAsync("k", "first");
        }

        await using (var redis = await ConnectionMultiplexer.ConnectAsync(second.Configuration))
        {
            Assert.False(await redis.GetDatabase().KeyExistsAsync("k"));
        }

        await first.DisposeAsync();
        await first.DisposeAsync();

        using var listener = new TcpListener(IPAddress.Loopback, first.Port);
        listener.Start();
    }

    private static async Task<long> EvalshaCallsAsync(ConnectionMultiplexer redis)
    {
        var stats = (await redis.GetServer(redis.GetEndPoints()[0]).InfoAsync("commandstats")).SelectMany(g => g).ToList();
        var evalsha = stats.SingleOrDefault(kv => kv.Key == "cmdstat_evalsha").Value; // calls=2,usec=...; absent before the first
        return evalsha is null ? 0 : long.Parse(evalsha.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<long> RunConcurrentIncrementsAsync(string configuration)
    {
        var key = new RedisKey("{rmw}:counter");
        var connections = new List<ConnectionMultiplexer>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                connections.Add(await ConnectionMultiplexer.ConnectAsync(configuration));
            }

            using var start = new SemaphoreSlim(0);
            var workers = connections.Select(c => Task.Run(async () =>
            {
                await start.WaitAsync();
                var db = c.GetDatabase();
                for (var i = 0; i < ScriptsPerConnection; i++)
                {
                    await db.ScriptEvaluateAsync(ReadModifyWrite, [key], [CallsPerScript]);
                }
            })).ToArray();
            start.Release(Connections);
            await Task.WhenAll(workers);

            return (long)await connections[0].GetDatabase().StringGetAsync(key);
        }
        finally
        {
            foreach (var c in connections)
            {
                await c.DisposeAsync();
            }
        }
    }
}
