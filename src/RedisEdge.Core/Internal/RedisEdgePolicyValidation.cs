using Microsoft.Extensions.Configuration;

namespace RedisEdge.Internal;

/// <summary>Start-up checks every feature's named policies share: the name, and binding each policy on its own.</summary>
internal static class RedisEdgePolicyValidation
{
    /// <summary>1-64 characters of <c>[A-Za-z0-9_.-]</c>: safe in metric tags, logs and configuration paths.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    /// <summary>Adds an error naming <paramref name="path"/> when <paramref name="policyName"/> is not a valid name.</summary>
    public static void CheckName(string path, string policyName, List<string> errors)
    {
        if (!IsValidName(policyName))
        {
            errors.Add($"{path}: a policy name must be 1-64 characters of [A-Za-z0-9_.-].");
        }
    }

    /// <summary>
    /// Checks every named policy of a feature the same way: a valid name, settings present (an entry bound to nothing
    /// is an error, not a policy with defaults), then the feature's own checks of the policy at
    /// <c>{root}:Policies:{name}</c>.
    /// </summary>
    public static void CheckPolicies<TPolicy>(string root, IEnumerable<KeyValuePair<string, TPolicy>> policies, List<string> errors, Action<string, string, TPolicy> validate)
        where TPolicy : class
    {
        foreach (var (policyName, policy) in policies)
        {
            var path = $"{root}:Policies:{policyName}";
            CheckName(path, policyName, errors);
            if (policy is null)
            {
                errors.Add($"{path} is empty.");
                continue;
            }

            validate(path, policyName, policy);
        }
    }

    /// <summary>
    /// The configuration binder silently drops a dictionary entry it cannot convert (an unknown enum value, a number
    /// written as "ten"); binding each child of <paramref name="policies"/> on its own surfaces the error, with its path.
    /// </summary>
    public static void CheckBinding<TPolicy>(IConfigurationSection policies, List<string> errors)
    {
        foreach (var child in policies.GetChildren())
        {
            try
            {
                child.Get<TPolicy>();
            }
            catch (InvalidOperationException ex)
            {
                errors.Add(ex.Message);
            }
        }
    }
}
