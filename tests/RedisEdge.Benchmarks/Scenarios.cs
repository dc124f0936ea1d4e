namespace RedisEdge.Benchmarks;

/// <summary>
/// Every row of the benchmark, in report order. The generator ceiling, plain and floor rows always run (the ratios
/// and the load check need them); plain and floor run first and again last in each round.
/// </summary>
internal static class Scenarios
{
    /// <summary>Connections of the hot-partition rows (issue 11: coalescing at 64 connections on one partition).</summary>
    private const int HotConnections = 64;

    /// <summary>CPU of redis-server in the Redis-bound rows (cores).</summary>
    private const double RedisBoundCap = 0.25;

    /// <summary>App arguments of the rows that measure one script call per request.</summary>
    private static readonly IReadOnlyList<string> CoalescingOff = ["RedisEdge:RateLimiting:CoalesceHotPartitions=false"];

    // Issue 25: the sessions near cache is an app-wide option, so its row runs in an app started with it on.
    private static readonly IReadOnlyList<string> SessionNearCacheOn = ["RedisEdge:Sessions:NearCache:Enabled=true"];

    /// <summary>Connections of the synchronous-read rows of issue 7 and of the rows they are compared with.</summary>
    private const int SyncReadConnections = 64;

    public static IReadOnlyList<Scenario> All { get; } =
    [
        new("generator ceiling: wrk against nginx answering 200 ok (not a library row)", "/") { Role = ScenarioRole.GeneratorCeiling },
        new("plain endpoint (routing, no middleware)", "/plain") { Role = ScenarioRole.Plain },
        new("one-round-trip floor: raw EVALSHA, INCR + PEXPIRE", "/floor") { Role = ScenarioRole.Floor },

        // Hot partition: 64 connections on one partition (every wrk connection comes from 127.0.0.1), coalescing on
        // (the default) here, off further down, in the same run.
        new("one-round-trip floor, 64 connections", "/floor") { Connections = HotConnections },
        new("RedisEdge rate limit: fixed window, hot partition, 64 connections, coalescing on (default)", "/rl/fixed-window") { Connections = HotConnections },
        new("RedisEdge rate limit: sliding log, hot partition, 64 connections, coalescing on (default)", "/rl/sliding-log") { Connections = HotConnections },
        new("RedisEdge rate limit: three policies, hot partition, 64 connections, coalescing on (default)", "/rl/three") { Connections = HotConnections },
        new($"RedisEdge rate limit: fixed window, hot partition, 64 connections, Redis capped at {RedisBoundCap} core, coalescing on (default)", "/rl/fixed-window")
        {
            Connections = HotConnections,
            RedisCpuCap = RedisBoundCap,
        },

        // Coalescing off (one app for all of these rows): one script call per request, the per-decision cost. With
        // coalescing on, the single-connection-partition rows below would measure coalesced calls instead.
        new("RedisEdge rate limit: fixed window, hot partition, 64 connections, coalescing off", "/rl/fixed-window") { Connections = HotConnections, AppArguments = CoalescingOff },
        new("RedisEdge rate limit: sliding log, hot partition, 64 connections, coalescing off", "/rl/sliding-log") { Connections = HotConnections, AppArguments = CoalescingOff },
        new("RedisEdge rate limit: three policies, hot partition, 64 connections, coalescing off", "/rl/three") { Connections = HotConnections, AppArguments = CoalescingOff },
        // A Redis-bound hot partition: the case coalescing is for, a shard that the fleet saturates on one hot key.
        // One app on two cores cannot saturate a whole Redis core, so redis-server is capped (cgroup CPU quota) instead.
        new($"one-round-trip floor, 64 connections, Redis capped at {RedisBoundCap} core", "/floor") { Connections = HotConnections, RedisCpuCap = RedisBoundCap },
        new($"RedisEdge rate limit: fixed window, hot partition, 64 connections, Redis capped at {RedisBoundCap} core, coalescing off", "/rl/fixed-window")
        {
            Connections = HotConnections,
            AppArguments = CoalescingOff,
            RedisCpuCap = RedisBoundCap,
        },
        new("RedisEdge rate limit: fixed window (coalescing off)", "/rl/fixed-window") { AppArguments = CoalescingOff },
        new("RedisEdge rate limit: sliding log (coalescing off)", "/rl/sliding-log") { AppArguments = CoalescingOff },
        new("RedisEdge rate limit: sliding counter (coalescing off)", "/rl/sliding-counter") { AppArguments = CoalescingOff },
        new("RedisEdge rate limit: token bucket (coalescing off)", "/rl/token-bucket") { AppArguments = CoalescingOff },
        new("RedisEdge rate limit: GCRA (coalescing off)", "/rl/gcra") { AppArguments = CoalescingOff },
        new("RedisEdge rate limit: three policies (fixed window + token bucket + GCRA) (coalescing off)", "/rl/three") { AppArguments = CoalescingOff },
        new("RedisEdge rate limit: fixed window, coalescing on (default)", "/rl/fixed-window"),

        // Issue 24: the first-party middleware (UseRateLimiter) enforcing the same RedisEdge policy through
        // AddRedisEdgePolicy, next to the floor and RedisEdge's own middleware rows above.
        new("first-party middleware with RedisEdge policy: fixed window (UseRateLimiter + AddRedisEdgePolicy) (coalescing off)", "/aspnet-rl/redisedge-fixed-window")
        {
            AppArguments = CoalescingOff,
        },

        // The floor again, in the same app process as the coalescing-off rows just above (the Floor rows run in the
        // default app, another process): "× a raw EVALSHA endpoint in the same app" for those rows.
        new("one-round-trip floor, in the app with coalescing off", "/floor") { AppArguments = CoalescingOff },
        new("first-party middleware with RedisEdge policy: fixed window (UseRateLimiter + AddRedisEdgePolicy), coalescing on (default)", "/aspnet-rl/redisedge-fixed-window"),
        new("RedisEdge rate limit: denied locally (429, local deny cache)", "/rl/denied")
        {
            ExpectedStatus = 429,
            Setup = Prime(HttpMethod.Get, "/rl/denied"),
        },
        new("Microsoft.AspNetCore.RateLimiting fixed window (in-process, per replica)", "/aspnet-rl/fixed-window"),

        new("RedisEdge response cache hit (1 round trip)", "/rc/hit") { Setup = Prime(HttpMethod.Get, "/rc/hit") },
        new("Microsoft.AspNetCore.OutputCaching hit (Redis store)", "/aspnet-oc/hit") { Setup = Prime(HttpMethod.Get, "/aspnet-oc/hit") },
        new("RedisEdge response cache near-cache hit (0 round trips)", "/rc/near-hit") { Setup = Prime(HttpMethod.Get, "/rc/near-hit") },
        new("RedisEdge idempotency: replay of a stored response (Idempotent-Replayed)", "/idempotency/orders")
        {
            Method = HttpMethod.Post,
            Setup = IdempotencyKey("/idempotency/orders", "bench-replay"),
        },

        new("RedisEdge session read (LoadAsync)", "/session/read") { Setup = SessionPerRequestSlot("/session/login") },
        new("RedisEdge session read (LoadAsync), near cache on: cookie-carrying read served from memory", "/session/read")
        {
            Setup = SessionPerRequestSlot("/session/login"),
            AppArguments = SessionNearCacheOn,
        },
        new("RedisEdge session read+write", "/session/write") { Method = HttpMethod.Post, Setup = SessionPerRequestSlot("/session/login") },
        new("Microsoft.AspNetCore.Session read (LoadAsync, IDistributedCache)", "/aspnet-session/read") { Setup = SessionPerRequestSlot("/aspnet-session/login") },
        new("RedisEdge session cookie sent, session untouched", "/session/untouched") { Setup = SessionPerRequestSlot("/session/login") },
        new("Microsoft.AspNetCore.Session cookie sent, session untouched", "/aspnet-session/untouched") { Setup = SessionPerRequestSlot("/aspnet-session/login") },

        // The four 64-connection rows run alike: each in a freshly started app, warmed up with 2 connections (what the
        // synchronous rows need so that a stalling app cannot take the rest of the run down), so that the synchronous
        // read is compared with the LoadAsync read under the same conditions, not with a longer-warmed process.
        new("RedisEdge session read (LoadAsync), 64 connections", "/session/read")
        {
            Connections = SyncReadConnections,
            Setup = SessionPerRequestSlot("/session/login"),
            Isolated = true,
            WarmupConnections = 2,
        },
        new("Microsoft.AspNetCore.Session read (LoadAsync), 64 connections", "/aspnet-session/read")
        {
            Connections = SyncReadConnections,
            Setup = SessionPerRequestSlot("/aspnet-session/login"),
            Isolated = true,
            WarmupConnections = 2,
        },
        new("RedisEdge session direct synchronous read (GetInt32 without LoadAsync), 64 connections", "/session/read-sync")
        {
            Connections = SyncReadConnections,
            Setup = SessionPerRequestSlot("/session/login"),
            Isolated = true,
            WarmupConnections = 2,
        },
        new("Microsoft.AspNetCore.Session direct synchronous read (GetInt32 without LoadAsync), 64 connections", "/aspnet-session/read-sync")
        {
            Connections = SyncReadConnections,
            Setup = SessionPerRequestSlot("/aspnet-session/login"),
            Isolated = true,
            WarmupConnections = 2,
        },

        // The references again, so that the ratios of every row use the mean of the round's first and last measurement
        // of them: on this shared machine throughput drifts by 10-20% within the minutes of one round.
        new("plain endpoint, again at the end of the round", "/plain") { Role = ScenarioRole.Plain },
        new("one-round-trip floor, again at the end of the round", "/floor") { Role = ScenarioRole.Floor },
    ];

    /// <summary>Sends one request before the warm-up (the one that takes the only permit, say); wrk sends no extra headers.</summary>
    private static ScenarioSetup Prime(HttpMethod method, string path) => async (app, _) =>
    {
        await app.SendAsync(method, path, TimeSpan.FromSeconds(10));
        return [new Dictionary<string, string>()];
    };

    /// <summary>
    /// Executes the endpoint once with <paramref name="key"/> (no body, as wrk sends it), so every measured request with
    /// the same key and the same empty body is a replay.
    /// </summary>
    private static ScenarioSetup IdempotencyKey(string path, string key) => async (app, _) =>
    {
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };
        var status = await app.SendAsync(HttpMethod.Post, path, TimeSpan.FromSeconds(10), headers);
        if (status != System.Net.HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"POST {path} with an idempotency key answered {(int)status}, not 200.");
        }

        return [headers];
    };

    /// <summary>
    /// Logs in once per connection and sends each session's cookie in turn, so concurrent requests use different
    /// sessions (wrk hands pre-formatted requests out round-robin; a connection is not pinned to one session).
    /// </summary>
    private static ScenarioSetup SessionPerRequestSlot(string loginPath) => async (app, connections) =>
    {
        var sets = new List<IReadOnlyDictionary<string, string>>(connections);
        for (var i = 0; i < connections; i++)
        {
            sets.Add(new Dictionary<string, string> { ["Cookie"] = await app.LoginAsync(loginPath) });
        }

        if (sets.Select(s => s["Cookie"]).Distinct().Count() != connections)
        {
            throw new InvalidOperationException($"POST {loginPath}: expected {connections} distinct session cookies.");
        }

        return sets;
    };
}
