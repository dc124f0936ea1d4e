using RedisEdge.Internal;

namespace RedisEdge.Tests.Core;

/// <summary>
/// The one check every feature's validator runs over its named policies (rate limiting, idempotency and response
/// caching all call <see cref="RedisEdgePolicyValidation.CheckPolicies"/>): a bad name and an empty entry are errors
/// naming their path, and the feature's own checks see only the entries that have settings.
/// </summary>
public sealed class PolicyValidationTests
{
    [Fact]
    public void CheckPolicies_NamesEveryBadNameAndEmptyEntry_AndValidatesOnlyEntriesWithSettings()
    {
        var policies = new Dictionary<string, object>
        {
            ["good"] = new(),
            ["bad name"] = new(),
            ["empty"] = null!,
        };
        var errors = new List<string>();
        var validated = new List<string>();

        RedisEdgePolicyValidation.CheckPolicies("RedisEdge:Feature", policies, errors, (path, name, _) => validated.Add($"{name} at {path}"));

        Assert.Equal(["good at RedisEdge:Feature:Policies:good", "bad name at RedisEdge:Feature:Policies:bad name"], validated);
        Assert.Equal(
        [
            "RedisEdge:Feature:Policies:bad name: a policy name must be 1-64 characters of [A-Za-z0-9_.-].",
            "RedisEdge:Feature:Policies:empty is empty.",
        ], errors);
    }
}
