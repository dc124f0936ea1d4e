using System.Globalization;

namespace RedisEdge.Benchmarks;

/// <summary>Command-line options of the harness.</summary>
internal sealed record BenchmarkOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Warm-up of the first row measured in a freshly started app (the JIT's tiers settle over seconds).</summary>
    public TimeSpan FreshAppWarmup { get; init; } = TimeSpan.FromSeconds(8);

    public int Connections { get; init; } = 32;

    public int Threads { get; init; } = 1;

    public int Rounds { get; init; } = 3;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public IReadOnlyList<string> Only { get; init; } = [];

    public string Output { get; init; } = Path.Combine("artifacts", "benchmarks", "results.md");

    public bool ListOnly { get; init; }

    public const string Usage = """
        Usage: dotnet run -c Release --project tests/RedisEdge.Benchmarks -- [options]

          --duration <time>      measured wrk run per scenario and round (default 5s)
          --warmup <time>        wrk warm-up before each measured run, same endpoint (default 2s; 0 = none)
          --fresh-warmup <time>  warm-up of the first row in a freshly started app (default 8s; at least --warmup)
          --connections <n>      wrk connections of the rows that do not set their own (default 32)
          --threads <n>          wrk threads (default 1)
          --rounds <n>           rounds; every row reports medians over them (default 3)
          --timeout <time>       wrk per-request timeout (default 2s)
          --only <text>[,<text>] run only the rows whose name contains one of the texts (plain and floor always run)
          --output <file>        markdown report (default artifacts/benchmarks/results.md)
          --list                 print the rows and exit

        <time> is whole seconds, as wrk takes them: "5", "5s" or "1m".
        Requires redis-server and wrk on PATH (Debian/Ubuntu: sudo apt-get install -y redis-server wrk).
        """;

    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchmarkOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name == "--list")
            {
                options = options with { ListOnly = true };
                continue;
            }

            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{name} needs a value.{Environment.NewLine}{Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--duration" => options with { Duration = Time(name, value, 1) },
                "--warmup" => options with { Warmup = Time(name, value, 0) },
                "--fresh-warmup" => options with { FreshAppWarmup = Time(name, value, 0) },
                "--connections" => options with { Connections = Count(name, value) },
                "--threads" => options with { Threads = Count(name, value) },
                "--rounds" => options with { Rounds = Count(name, value) },
                "--timeout" => options with { RequestTimeout = Time(name, value, 1) },
                "--only" => options with { Only = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--output" => options with { Output = value },
                _ => throw new ArgumentException($"Unknown option {name}.{Environment.NewLine}{Usage}"),
            };
        }

        if (options.Threads > options.Connections)
        {
            throw new ArgumentException($"--threads ({options.Threads}) cannot exceed --connections ({options.Connections}).");
        }

        return options;
    }

    private static int Count(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is > 0 and <= 10_000
            ? count
            : throw new ArgumentException($"{name} must be a whole number from 1 to 10000 (was '{value}').");

    /// <summary>Whole seconds only: wrk reads its duration and timeout as integers.</summary>
    private static TimeSpan Time(string name, string value, int minimumSeconds)
    {
        var (number, unit) = value.EndsWith('s') ? (value[..^1], 1) : value.EndsWith('m') ? (value[..^1], 60) : (value, 1);
        if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount * unit < minimumSeconds || amount * unit > 3600)
        {
            throw new ArgumentException($"{name} must be whole seconds from {minimumSeconds} to 3600, such as 5s or 1m (was '{value}').");
        }

        return TimeSpan.FromSeconds(amount * unit);
    }
}
