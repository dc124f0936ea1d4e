using System.Globalization;
using System.Text;

namespace RedisEdge.Benchmarks;

/// <summary>Turns the runs into two markdown tables: the figures per row, and the load check that backs them.</summary>
internal static class Report
{
    public static string Markdown(IReadOnlyList<Scenario> scenarios, IReadOnlyList<ScenarioRun> runs, BenchmarkOptions options, RunEnvironment environment)
    {
        var text = new StringBuilder();
        text.AppendLine("## Results").AppendLine();
        text.AppendLine(Invariant($"Run {environment.StartedUtc:yyyy-MM-dd HH:mm} UTC at commit {environment.Commit}; {environment.Machine}; {environment.Software}."));
        text.AppendLine(Invariant($"{options.Rounds} round(s); per row and round {Seconds(options.Warmup)} warm-up then {Seconds(options.Duration)} measured; wrk {options.Threads} thread(s), {options.Connections} connections unless the row says otherwise, {Seconds(options.RequestTimeout)} per-request timeout. Whole run: {Duration(environment.Elapsed)}."));
        text.AppendLine("Every figure is the median over the rounds; × plain and × floor are medians of the ratio within each round; unexpected statuses are summed over the rounds.").AppendLine();

        text.AppendLine("| scenario | conns | req/s | × plain | × floor | Redis round trips / req | Redis µs / script call | Redis CPU µs / req | alloc B / req | unexpected statuses |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var scenario in scenarios)
        {
            var rows = runs.Where(r => r.Scenario == scenario).ToList();
            if (rows.Count == 0)
            {
                continue;
            }

            text.AppendLine(Invariant(
                $"| {scenario.Name} | {rows[0].Connections} | {Median(rows.Select(r => (double?)r.Wrk.RequestsPerSecond)):N0} | {Format(Ratio(rows, runs, ScenarioRole.Plain), "0.00")} | {Format(Ratio(rows, runs, ScenarioRole.Floor), "0.00")} | {Format(Median(rows.Select(r => r.RoundTripsPerRequest)), "0.00")} | {Format(Median(rows.Select(r => r.RedisMicrosecondsPerScriptCall)), "0.0")} | {Format(Median(rows.Select(r => r.RedisCpuMicrosecondsPerRequest)), "0.0")} | {Format(Median(rows.Select(r => r.AllocatedBytesPerRequest)), "N0")} | {Unexpected(rows)} |"));
        }

        text.AppendLine();
        text.AppendLine("Load check (is the generator the limit?): wrk busy = wrk's CPU time ÷ (duration × threads), near 100% would mean wrk is the limit; CPU µs / req = CPU time ÷ responses; Redis cores = redis-server's CPU time ÷ duration; script calls / req = EVALSHA + EVAL calls Redis counted (INFO commandstats), a server-side cross-check of the round trips; slower than timeout = responses that came later than the per-request timeout.").AppendLine();
        text.AppendLine("| scenario | req/s per round | p50 ms | p99 ms | wrk busy | wrk CPU µs / req | app CPU µs / req | Redis cores | script calls / req | slower than timeout | socket errors | notes |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var scenario in scenarios)
        {
            var rows = runs.Where(r => r.Scenario == scenario).ToList();
            if (rows.Count == 0)
            {
                continue;
            }

            var perRound = string.Join(" / ", rows.Select(r => Invariant($"{r.Wrk.RequestsPerSecond:N0}")));
            var notes = string.Join("; ", rows.Where(r => r.Note is not null)
                .GroupBy(r => r.Note)
                .Select(g => Invariant($"{(g.Count() == 1 ? "round" : "rounds")} {string.Join(", ", g.Select(r => r.Round))}: {g.Key}")));
            text.AppendLine(Invariant(
                $"| {scenario.Name} | {perRound} | {Format(Median(rows.Select(r => (double?)r.Wrk.P50.TotalMilliseconds)), "0.00")} | {Format(Median(rows.Select(r => (double?)r.Wrk.P99.TotalMilliseconds)), "0.00")} | {Format(Median(rows.Select(r => (double?)r.WrkBusy)), "0%")} | {Format(Median(rows.Select(r => r.WrkCpuMicrosecondsPerRequest)), "0.0")} | {Format(Median(rows.Select(r => r.AppCpuMicrosecondsPerRequest)), "0.0")} | {Format(Median(rows.Select(r => (double?)r.RedisCores)), "0.00")} | {Format(Median(rows.Select(r => r.ScriptCallsPerRequest)), "0.00")} | {rows.Sum(r => r.Wrk.SlowerThanTimeout)} | {rows.Sum(r => r.Wrk.SocketErrors)} | {notes} |"));
        }

        return text.ToString();
    }

    /// <summary>Unexpected statuses over all rounds, with the codes: <c>0</c>, or <c>129 (503: 120, 500: 9)</c>.</summary>
    private static string Unexpected(IReadOnlyList<ScenarioRun> rows)
    {
        var total = rows.Sum(r => r.Wrk.UnexpectedStatuses);
        if (total == 0)
        {
            return "0";
        }

        var byStatus = rows.SelectMany(r => r.Wrk.UnexpectedByStatus)
            .GroupBy(p => p.Key)
            .OrderBy(g => g.Key)
            .Select(g => Invariant($"{g.Key}: {g.Sum(p => p.Value)}"));
        return Invariant($"{total} ({string.Join(", ", byStatus)})");
    }

    /// <summary>
    /// Median over rounds of the row's req/s divided by the <paramref name="role"/> reference in the same round: the mean
    /// of that round's measurements of the reference (it is measured first and again last in each round, so a machine
    /// that drifts during a round biases no row by more than half the drift).
    /// </summary>
    private static double? Ratio(IReadOnlyList<ScenarioRun> rows, IReadOnlyList<ScenarioRun> runs, ScenarioRole role) =>
        Median(rows.Select(row =>
        {
            var references = runs.Where(r => r.Round == row.Round && r.Scenario.Role == role && r.Wrk.RequestsPerSecond > 0).ToList();
            return references.Count > 0 ? row.Wrk.RequestsPerSecond / references.Average(r => r.Wrk.RequestsPerSecond) : (double?)null;
        }));

    internal static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.Where(v => v.HasValue).Select(v => v!.Value).Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static string Format(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "—";

    private static string Seconds(TimeSpan value) => Invariant($"{value.TotalSeconds:0.###} s");

    private static string Duration(TimeSpan value) => value.TotalMinutes >= 1 ? Invariant($"{(int)value.TotalMinutes} min {value.Seconds} s") : Invariant($"{value.TotalSeconds:0} s");

    private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
