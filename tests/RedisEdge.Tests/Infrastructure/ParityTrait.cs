namespace RedisEdge.Tests.Infrastructure;

/// <summary>
/// Marks the fleet tests that scripts/test.sh runs a second time on RedisEdge.Testing's embedded server
/// (<c>dotnet test --filter Parity=true</c> with <c>REDISEDGE_TEST_REDIS=embedded</c>): exact limits across three
/// instances, execute-once, single-flight fill and eviction, session continuity. Tests that need what Garnet lacks
/// (cluster, CONFIG SET, DEBUG, killing the server process) are not marked.
/// </summary>
public static class ParityTrait
{
    public const string Name = "Parity";

    public const string Value = "true";
}
