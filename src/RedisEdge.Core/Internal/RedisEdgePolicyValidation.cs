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
