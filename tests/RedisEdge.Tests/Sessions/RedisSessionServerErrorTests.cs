using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// Redis answering with an error instead of a result, for real, on private servers: out of memory under
/// <c>noeviction</c>, a read-only replica after failover, busy with a long script. These are outages (503 with
/// Retry-After under FailClosed, an empty session under FailOpen, counted by the breaker); a script error is not.
/// </summary>
public sealed class RedisSessionServerErrorTests : IAsyncLifetime
{
    private RedisServerProcess _server = null!;
    private ConnectionMultiplexer _admin = null!;

    private IServer Server => _admin.GetServer(_admin.GetEndPoints()[0]);

    public async Task InitializeAsync()
    {
        _server = await RedisServerProcess.StartAsync();
        _admin = await AdminAsync(_server);
    }

    public async Task DisposeAsync()
    {
        await _admin.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task OutOfMemory_NoEviction_WritesAnswer503_ReadsStillWork_BreakerOpensAfterThreshold()
    {
        await using var fleet = await StartAsync("FailClosed");
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        await _admin.GetDatabase().ExecuteAsync("EVAL", "redis.call('SET', KEYS[1], string.rep('x', 2097152))", 1, "ballast");
        await Server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await Server.ConfigSetAsync("maxmemory", "1mb");

        // A load only slides the expiry, which Redis allows when out of memory.
        Assert.Equal("v", await browser.GetAsync(fleet[0], "/get/k"));

        // A commit writes: refused. (Its load succeeded, so the breaker's count of consecutive failures restarts here.)
        await AssertUnavailableAsync(await browser.SendAsync(fleet[0], HttpMethod.Post, "/set/k/w"), retryAfterSeconds: 1);

        // New sessions cannot be created either, and a session that was not created is never sent to the client.
        for (var failures = 2; failures <= 3; failures++)
        {
            using var create = await new SessionBrowser().SendAsync(fleet[0], HttpMethod.Post, "/set/k/v");
            await AssertUnavailableAsync(create, retryAfterSeconds: failures < 3 ? 1 : null);
            Assert.False(create.Headers.Contains("Set-Cookie"));
            Assert.Equal(failures == 3, Store(fleet).IsCircuitOpen);
        }

        // BreakAfterFailures (3) consecutive failures: the breaker is open, and even a read is refused without a call.
        using var refused = await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k");
        await AssertUnavailableAsync(refused, retryAfterSeconds: null);
        Assert.True(refused.Headers.RetryAfter!.Delta > TimeSpan.FromSeconds(1));

        await Server.ConfigSetAsync("maxmemory", "0");
    }

    [Fact]
    public async Task ReadOnlyReplica_FailClosed_503AndBreaker_FailOpen_EmptySessionAndWrites503()
    {
        await using var primary = await RedisServerProcess.StartAsync();
        var prefix = RedisServerFixture.UniquePrefix();
        var settings = new Dictionary<string, string?> { ["RedisEdge:Redis:KeyPrefix"] = prefix };
        await using var onPrimary = await SessionTestApp.StartAsync(primary.Configuration, 1, settings);
        var browser = new SessionBrowser();
        await browser.PostAsync(onPrimary[0], "/set/k/v");

        // _server becomes a replica of the primary (as after a failover that left this app on the old node).
        await using (var primaryAdmin = await AdminAsync(primary))
        {
            await primaryAdmin.GetServer(primaryAdmin.GetEndPoints()[0]).ConfigSetAsync("repl-diskless-sync-delay", "0");
        }

        await Server.ReplicaOfAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, primary.Port));
        var key = $"{prefix}:sessions:{{{RedisEdge.Internal.RedisKeyBuilder.Hash(browser.Cookie!)}}}";
        await WaitUntilAsync(async () => await _admin.GetDatabase().KeyExistsAsync(key));

        await using (var closed = await StartAsync("FailClosed", settings))
        {
            await AssertUnavailableAsync(await browser.SendAsync(closed[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: 1);
            await AssertUnavailableAsync(await browser.SendAsync(closed[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: 1);
            await AssertUnavailableAsync(await browser.SendAsync(closed[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: null);
            Assert.True(Store(closed).IsCircuitOpen);
        }

        await using var open = await StartAsync("FailOpen", settings);
        Assert.Equal("(null)", await browser.GetAsync(open[0], "/get/k"));
        await AssertUnavailableAsync(await browser.SendAsync(open[0], HttpMethod.Post, "/set/k/w"), retryAfterSeconds: null);
    }

    [Fact]
    public async Task Busy_LongScriptRunning_Answers503_CountsTowardTheBreaker_LogsOnlyTheTransition()
    {
        var log = new ListLogger();
        await using var fleet = await StartAsync("FailClosed", configure: builder => builder.Logging.AddProvider(log));
        var browser = new SessionBrowser();
        await browser.PostAsync(fleet[0], "/set/k/v");
        await Server.ConfigSetAsync("busy-reply-threshold", "10");
        await using var blocker = await ConnectionMultiplexer.ConnectAsync(_server.Configuration + ",asyncTimeout=60000,syncTimeout=60000");
        var running = blocker.GetDatabase().ExecuteAsync("EVAL", "while true do end", 0);
        await WaitUntilAsync(async () =>
        {
            try
            {
                await _admin.GetDatabase().PingAsync();
                return false;
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("BUSY", StringComparison.Ordinal))
            {
                return true;
            }
        });

        try
        {
            await AssertUnavailableAsync(await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: 1);
            await AssertUnavailableAsync(await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: 1);
            await AssertUnavailableAsync(await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: null);
            Assert.True(Store(fleet).IsCircuitOpen);
            await AssertUnavailableAsync(await browser.SendAsync(fleet[0], HttpMethod.Get, "/get/k"), retryAfterSeconds: null);

            // Four failed requests, one log line at Warning or above: the breaker opening (per-request lines are Debug).
            Assert.Equal(["CircuitOpened"], log.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.EventName));
        }
        finally
        {
            await Server.ExecuteAsync("SCRIPT", "KILL");
            await Assert.ThrowsAsync<RedisServerException>(() => running);
        }
    }

    [Fact]
    public async Task ScriptError_SurfacesAsAServerError_NeverAs503_AndDoesNotOpenTheBreaker()
    {
        await using var fleet = await StartAsync("FailClosed");

        // Foreign data where the user index belongs: user_bind.lua fails with WRONGTYPE, a genuine script error.
        var index = $"{fleet.KeyPrefix}:sessions:{{{RedisSessionStore.UserTag("alice")}}}:user";
        await _admin.GetDatabase().StringSetAsync(index, "not a sorted set");

        for (var i = 0; i < 4; i++)
        {
            var browser = new SessionBrowser();
            var error = await Assert.ThrowsAsync<RedisServerException>(() => browser.SendAsync(fleet[0], HttpMethod.Post, "/login/alice"));
            Assert.Contains("WRONGTYPE", error.Message, StringComparison.Ordinal);
            Assert.Null(browser.Cookie);
        }

        Assert.False(Store(fleet).IsCircuitOpen);
        var other = new SessionBrowser();
        await other.PostAsync(fleet[0], "/login/bob");
        Assert.Equal("bob", await other.GetAsync(fleet[0], "/me"));
    }

    private static RedisSessionStore Store(RedisFleet fleet) => (RedisSessionStore)fleet[0].Services.GetService(typeof(RedisSessionStore))!;

    private Task<RedisFleet> StartAsync(string mode, Dictionary<string, string?>? extra = null, Action<WebApplicationBuilder>? configure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:Failure:Mode"] = mode,
            ["RedisEdge:Sessions:Failure:BreakAfterFailures"] = "3",
            ["RedisEdge:Sessions:Failure:BreakDuration"] = "00:00:30",
            ["RedisEdge:Sessions:Failure:Timeout"] = "00:00:05",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return SessionTestApp.StartAsync(_server.Configuration, 1, settings, configure);
    }

    /// <summary>
    /// 503 with no-store and, when given, exactly that Retry-After (1 s while the breaker is closed). A failed read is a
    /// problem+json response; a failed commit of an endpoint that already began its body keeps that body (the status
    /// and headers can still change when the response starts, the body cannot).
    /// </summary>
    private static async Task AssertUnavailableAsync(HttpResponseMessage response, int? retryAfterSeconds)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"Expected 503, got {(int)response.StatusCode}: {body}");
            if (response.RequestMessage!.Method == HttpMethod.Get)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }

            Assert.True(response.Headers.CacheControl?.NoStore);
            Assert.NotNull(response.Headers.RetryAfter?.Delta);
            if (retryAfterSeconds is { } seconds)
            {
                Assert.Equal(TimeSpan.FromSeconds(seconds), response.Headers.RetryAfter!.Delta);
            }
        }
    }

    private static async Task<ConnectionMultiplexer> AdminAsync(RedisServerProcess server)
    {
        var options = ConfigurationOptions.Parse(server.Configuration);
        options.AllowAdmin = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 400; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(25);
        }

        Assert.Fail("The condition did not hold within 10 s.");
    }
}
