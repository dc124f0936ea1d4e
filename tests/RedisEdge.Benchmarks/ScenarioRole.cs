namespace RedisEdge.Benchmarks;

/// <summary>What a row is for in the ratios and the load check.</summary>
internal enum ScenarioRole
{
    /// <summary>An ordinary row.</summary>
    Measured,

    /// <summary>The plain endpoint: the denominator of "× plain" (measured at the start and at the end of each round).</summary>
    Plain,

    /// <summary>The raw one-round-trip script: the denominator of "× floor" (measured at the start and at the end of each round).</summary>
    Floor,

    /// <summary>wrk against a private nginx instead of the app: how fast the generator itself can go here.</summary>
    GeneratorCeiling,
}
