namespace RedisEdge.Benchmarks;

/// <summary>Prepares a scenario's requests on a running app; returns one header set per distinct request.</summary>
internal delegate Task<IReadOnlyList<IReadOnlyDictionary<string, string>>> ScenarioSetup(AppProcess app, int connections);
