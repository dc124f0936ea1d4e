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
        await using var nginx = scenarios.Any(s => s.Role == ScenarioRole.GeneratorCeiling) ? await NginxProcess.TryStartAsync() : null;
        if (nginx is null && scenarios.Any(s => s.Role == ScenarioRole.GeneratorCeiling))
        {
            progress.WriteLine("nginx was not found on PATH: the generator-ceiling row is skipped (sudo apt-get install -y nginx to get it).");
            scenarios = scenarios.Where(s => s.Role != ScenarioRole.GeneratorCeiling).ToList();
        }

        if (scenarios.Any(s => s.RedisCpuCap is not null) && redis.TryLimitCpu(null) is { } unavailable)
        {
            progress.WriteLine($"{unavailable}: the rows with a Redis CPU cap are skipped (they need root and a cgroup CPU controller).");
            scenarios = scenarios.Where(s => s.RedisCpuCap is null).ToList();
        }

        IReadOnlyList<string> arguments = [];
        var app = await StartAppAsync(redis, arguments);
        var fresh = true;
        try
        {
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var scenario in scenarios)
                {
                    if (scenario.Isolated || (scenario.Role != ScenarioRole.GeneratorCeiling && !scenario.AppArguments.SequenceEqual(arguments)))
                    {
                        arguments = scenario.AppArguments;
                        app = await RestartAppAsync(app, redis, arguments);
                        fresh = true;
                    }

                    var watch = Stopwatch.StartNew();
                    var run = scenario.Role == ScenarioRole.GeneratorCeiling
                        ? await RunGeneratorCeilingAsync(nginx!, scenario, round)
                        : await RunScenarioAsync(app, redis, scenario, round, fresh && !scenario.Isolated);
                    fresh = fresh && scenario.Role == ScenarioRole.GeneratorCeiling;
                    if (scenario.Isolated)
                    {
                        app = await RestartAppAsync(app, redis, arguments);
                    }
                    else if (!await app.IsResponsiveAsync(ResponsiveTimeout))
                    {
                        run = run with { Note = Join(run.Note, "app unresponsive after the run; restarted") };
                        app = await RestartAppAsync(app, redis, arguments);
                    }

                    runs.Add(run);
                    progress.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"round {round}/{options.Rounds} {run.Wrk.RequestsPerSecond,9:N0} req/s  unexpected {run.Wrk.UnexpectedStatuses}  ({watch.Elapsed.TotalSeconds:0.0} s)  {scenario.Name}{(run.Note is null ? string.Empty : " [" + run.Note + "]")}"));
                }
            }
        }
        finally
        {
            await app.DisposeAsync();
        }

        return runs;
    }

    /// <summary>The same wrk load as every row, against nginx: only wrk's own figures mean something here.</summary>
    private async Task<ScenarioRun> RunGeneratorCeilingAsync(NginxProcess nginx, Scenario scenario, int round)
    {
        var load = Load(scenario, [new Dictionary<string, string>()]);
        await WarmUpAsync(nginx.Address, scenario, load);
        var wrk = await Wrk.RunAsync(nginx.Address, load);
        return new ScenarioRun(scenario, round, load.Connections, load.Threads, wrk, null, null, null, null, null, null, 0, null);
    }

    private async Task<ScenarioRun> RunScenarioAsync(AppProcess app, BenchmarkRedis redis, Scenario scenario, int round, bool freshApp)
    {
        if (scenario.RedisCpuCap is not { } cap)
        {
            return await RunScenarioCoreAsync(app, redis, scenario, round, freshApp);
        }

        if (redis.TryLimitCpu(cap) is { } unavailable)
        {
            throw new InvalidOperationException($"'{scenario.Name}' needs a Redis CPU cap: {unavailable}. Run as root on Linux with cgroups, or leave the row out with --only.");
        }

        try
        {
            return await RunScenarioCoreAsync(app, redis, scenario, round, freshApp);
        }
        finally
        {
            redis.TryLimitCpu(null);
        }
    }

    private async Task<ScenarioRun> RunScenarioCoreAsync(AppProcess app, BenchmarkRedis redis, Scenario scenario, int round, bool freshApp)
    {
        var connections = scenario.Connections ?? options.Connections;
        var load = Load(scenario, scenario.Setup is null ? [new Dictionary<string, string>()] : await scenario.Setup(app, connections));
        // The first row in a freshly started app warms up longer: two seconds on its endpoint leave part of the
        // measured run in code that the JIT has not yet moved to its last tier (a fresh app served 19.5k req/s over its
        // first 4 s of near-cache session reads and 47k after), while the plain and floor rows it is compared with run
        // in a process warmed for minutes.
        await WarmUpAsync(app.Address, scenario, load, freshApp ? Max(options.Warmup, options.FreshAppWarmup) : options.Warmup);

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
            load.Connections,
            load.Threads,
            wrk,
            appCounters ? (double)(statsAfter!.RedisOperations - statsBefore!.RedisOperations) / requests : null,
            requests > 0 ? (double)scriptCalls / requests : null,
            scriptCalls > 0 ? (double)(redisAfter.ScriptMicroseconds - redisBefore.ScriptMicroseconds) / scriptCalls : null,
            requests > 0 ? (redisAfter.Cpu - redisBefore.Cpu).TotalMicroseconds / requests : null,
            appCounters ? (double)(statsAfter!.AllocatedBytes - statsBefore!.AllocatedBytes) / requests : null,
            appCpuAfter is { } after && appCpuBefore is { } before && seconds > 0 ? (after - before).TotalSeconds / seconds : null,
            seconds > 0 ? (redisAfter.Cpu - redisBefore.Cpu).TotalSeconds / seconds : 0,
            Join(
                wrk.Requests == 0 ? $"no response in the measured run; {wrk.PendingAtStop} requests still waiting when wrk stopped" : null,
                statsAfter is null ? "app did not report its counters after the run" : null));
    }

    private WrkLoad Load(Scenario scenario, IReadOnlyList<IReadOnlyDictionary<string, string>> headerSets)
    {
        var connections = scenario.Connections ?? options.Connections;
        return new WrkLoad(
            scenario.Method,
            scenario.Path,
            headerSets,
            scenario.Body,
            scenario.ExpectedStatus,
            connections,
            Math.Min(options.Threads, connections),
            options.Duration,
            options.RequestTimeout);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private async Task WarmUpAsync(Uri address, Scenario scenario, WrkLoad load) => await WarmUpAsync(address, scenario, load, options.Warmup);

    private async Task WarmUpAsync(Uri address, Scenario scenario, WrkLoad load, TimeSpan duration)
    {
        if (duration > TimeSpan.Zero && options.Warmup > TimeSpan.Zero)
        {
            var connections = scenario.WarmupConnections ?? load.Connections;
            await Wrk.RunAsync(address, load with
            {
                Connections = connections,
                Threads = Math.Min(load.Threads, connections),
                Duration = duration,
            });
        }
    }

    private async Task<AppProcess> RestartAppAsync(AppProcess app, BenchmarkRedis redis, IReadOnlyList<string> arguments)
    {
        await app.DisposeAsync();
        return await StartAppAsync(redis, arguments);
    }

    /// <summary>
    /// Starts an app and warms it up on <c>/plain</c> (JIT tiers, Kestrel's pools), so the first row after a start
    /// is not measured against a cold process. The plain endpoint never blocks a thread, so this does not grow the
    /// thread pool an isolated row is meant to meet at its start-up size.
    /// </summary>
    private async Task<AppProcess> StartAppAsync(BenchmarkRedis redis, IReadOnlyList<string> arguments)
    {
        var app = await AppProcess.StartAsync(redis.Configuration, arguments);
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

    private static string? Join(string? first, string? second) => first is null ? second : second is null ? first : first + "; " + second;
}
