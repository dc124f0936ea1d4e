using System.Diagnostics;
using System.Globalization;

namespace RedisEdge.Benchmarks;

/// <summary>
/// Runs every selected scenario once per round against one app and one private Redis, all scenarios of a round
/// back to back, so each round's ratios come from the same minutes of machine time.
/// </summary>
internal sealed class Harness(BenchmarkOptions options, TextWriter progress)
{
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ResponsiveTimeout = TimeSpan.FromSeconds(5);

    public async Task<IReadOnlyList<ScenarioRun>> RunAsync(IReadOnlyList<Scenario> scenarios, BenchmarkRedis redis)
    {
        var runs = new List<ScenarioRun>();
        var app = await StartAppAsync(redis);
        try
        {
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var scenario in scenarios)
                {
                    if (scenario.Isolated)
                    {
                        app = await RestartAppAsync(app, redis);
                    }

                    var watch = Stopwatch.StartNew();
                    var run = await RunScenarioAsync(app, redis, scenario, round);
                    if (scenario.Isolated)
                    {
                        app = await RestartAppAsync(app, redis);
                    }
                    else if (!await app.IsResponsiveAsync(ResponsiveTimeout))
                    {
                        run = run with { Note = Join(run.Note, "app unresponsive after the run; restarted") };
                        app = await RestartAppAsync(app, redis);
                    }

                    runs.Add(run);
                    progress.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"round {round}/{options.Rounds} {run.Wrk.RequestsPerSecond,9:N0} req/s  unexpected {run.Wrk.UnexpectedStatuses}  pending at stop {run.Wrk.PendingAtStop}  ({watch.Elapsed.TotalSeconds:0.0} s)  {scenario.Name}{(run.Note is null ? string.Empty : " [" + run.Note + "]")}"));
                }
            }
        }
        finally
        {
            await app.DisposeAsync();
        }

        return runs;
    }

    private async Task<ScenarioRun> RunScenarioAsync(AppProcess app, BenchmarkRedis redis, Scenario scenario, int round)
    {
        var connections = scenario.Connections ?? options.Connections;
        var headerSets = scenario.Setup is null ? [new Dictionary<string, string>()] : await scenario.Setup(app, connections);
        var load = new WrkLoad(
            scenario.Method,
            scenario.Path,
            headerSets,
            scenario.Body,
            scenario.ExpectedStatus,
            connections,
            Math.Min(options.Threads, connections),
            options.Duration,
            options.RequestTimeout);

        if (options.Warmup > TimeSpan.Zero)
        {
            var warmupConnections = scenario.WarmupConnections ?? connections;
            await Wrk.RunAsync(app.Address, load with
            {
                Connections = warmupConnections,
                Threads = Math.Min(load.Threads, warmupConnections),
                Duration = options.Warmup,
            });
        }

        var statsBefore = await app.TryGetStatsAsync(StatsTimeout);
        var appCpuBefore = app.CpuTime();
        var redisBefore = await redis.SnapshotAsync();

        var wrk = await Wrk.RunAsync(app.Address, load);

        var redisAfter = await redis.SnapshotAsync();
        var appCpuAfter = app.CpuTime();
        var statsAfter = await app.TryGetStatsAsync(StatsTimeout);

        var requests = wrk.Requests;
        var seconds = wrk.Elapsed.TotalSeconds;
        var scriptCalls = redisAfter.ScriptCalls - redisBefore.ScriptCalls;
        var appCounters = statsBefore is not null && statsAfter is not null && requests > 0;
        return new ScenarioRun(
            scenario,
            round,
            connections,
            load.Threads,
            wrk,
            appCounters ? (double)(statsAfter!.RedisOperations - statsBefore!.RedisOperations) / requests : null,
            requests > 0 ? (double)scriptCalls / requests : null,
            scriptCalls > 0 ? (double)(redisAfter.ScriptMicroseconds - redisBefore.ScriptMicroseconds) / scriptCalls : null,
            requests > 0 ? (redisAfter.Cpu - redisBefore.Cpu).TotalMicroseconds / requests : null,
            appCounters ? (double)(statsAfter!.AllocatedBytes - statsBefore!.AllocatedBytes) / requests : null,
            appCpuAfter is { } after && appCpuBefore is { } before && seconds > 0 ? (after - before).TotalSeconds / seconds : null,
            seconds > 0 ? (redisAfter.Cpu - redisBefore.Cpu).TotalSeconds / seconds : 0,
            statsAfter is null ? "app did not report its counters after the run" : null);
    }

    private async Task<AppProcess> RestartAppAsync(AppProcess app, BenchmarkRedis redis)
    {
        await app.DisposeAsync();
        return await StartAppAsync(redis);
    }

    /// <summary>
    /// Starts an app and warms it up on <c>/plain</c> (JIT tiers, Kestrel's pools), so the first row after a start
    /// is not measured against a cold process. The plain endpoint never blocks a thread, so this does not grow the
    /// thread pool an isolated row is meant to meet at its start-up size.
    /// </summary>
    private async Task<AppProcess> StartAppAsync(BenchmarkRedis redis)
    {
        var app = await AppProcess.StartAsync(redis.Configuration);
        try
        {
            if (options.Warmup > TimeSpan.Zero)
            {
                await Wrk.RunAsync(app.Address, new WrkLoad(
                    HttpMethod.Get, "/plain", [new Dictionary<string, string>()], null, 200, options.Connections, options.Threads, options.Warmup, options.RequestTimeout));
            }

            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private static string Join(string? first, string second) => first is null ? second : first + "; " + second;
}
