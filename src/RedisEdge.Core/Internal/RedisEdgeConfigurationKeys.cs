using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace RedisEdge.Internal;

/// <summary>
/// Refuses configuration keys that bind to nothing, and durations that do not mean what they seem, naming the path:
/// <c>"Algoritm": "TokenBucket"</c> would otherwise leave the policy a silent fixed window, and <c>"Expire": "30"</c>
/// would mean 30 days (.NET reads a bare number as days).
/// </summary>
/// <remarks>
/// The configuration binder ignores unknown keys, and its own <c>ErrorOnUnknownConfiguration</c> names neither the
/// path nor the nearest known key. This walks the section against the options type instead: properties (or their
/// <see cref="ConfigurationKeyNameAttribute"/>), dictionaries of policies, lists and nested option objects.
/// Runs as an <see cref="IValidateOptions{TOptions}"/>, so it fails start-up with every other validation error of
/// the feature, and again on a reload (which then keeps the previous options).
/// </remarks>
internal sealed class RedisEdgeConfigurationKeys<TOptions>(IConfigurationSection section, IReadOnlyCollection<string> ignoredChildren) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        if (name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var errors = new List<string>();
        foreach (var child in section.GetChildren())
        {
            if (!ignoredChildren.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                CheckMember(child, typeof(TOptions), errors);
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Checks <paramref name="section"/> as a value of <paramref name="type"/>.</summary>
    internal static void Check(IConfigurationSection section, Type type, List<string> errors)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(TimeSpan))
        {
            CheckDuration(section, errors);
            return;
        }

        if (IsScalar(type))
        {
            return;
        }

        if (ElementType(type) is { } element)
        {
            foreach (var item in section.GetChildren())
            {
                Check(item, element, errors);
            }

            return;
        }

        foreach (var child in section.GetChildren())
        {
            CheckMember(child, type, errors);
        }
    }

    private static void CheckMember(IConfigurationSection child, Type type, List<string> errors)
    {
        var properties = Bindable(type);
        var property = properties.FirstOrDefault(p => string.Equals(KeyOf(p), child.Key, StringComparison.OrdinalIgnoreCase));
        if (property is null)
        {
            var nearest = Nearest(child.Key, properties.Select(KeyOf));
            errors.Add(nearest is null
                ? $"{child.Path} is not a RedisEdge setting; it would be ignored."
                : $"{child.Path} is not a RedisEdge setting; it would be ignored (did you mean '{nearest}'?).");
            return;
        }

        Check(child, property.PropertyType, errors);
    }

    private static void CheckDuration(IConfigurationSection section, List<string> errors)
    {
        var value = section.Value?.Trim();
        if (!string.IsNullOrEmpty(value) && value.All(char.IsAsciiDigit))
        {
            errors.Add($"{section.Path} is '{value}', which .NET reads as {value} days; write a duration as [d.]hh:mm:ss[.fff], e.g. '00:00:{(value.Length == 1 ? "0" : string.Empty)}{value}' for {value} seconds.");
        }
    }

    /// <summary>Public instance properties the binder can fill: settable ones, and get-only objects or collections it fills in place.</summary>
    private static PropertyInfo[] Bindable(Type type) =>
    [
        .. type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod is { IsPublic: true } &&
                (p.SetMethod is { IsPublic: true } || !IsScalar(p.PropertyType))),
    ];

    private static string KeyOf(PropertyInfo property) =>
        property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;

    /// <summary>A type read from one string (numbers, enums, strings, durations, anything with a string converter), or
    /// one the binder never reads (delegates, <see cref="object"/>): no key below it to check.</summary>
    private static bool IsScalar(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(object) ||
            typeof(Delegate).IsAssignableFrom(type) || TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string));
    }

    /// <summary>The value type of a dictionary, the element type of an array or list; <see langword="null"/> otherwise.</summary>
    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (!typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        var interfaces = type.IsInterface ? [type, .. type.GetInterfaces()] : type.GetInterfaces();
        var dictionary = interfaces.FirstOrDefault(i => i.IsGenericType &&
            (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
        if (dictionary is not null)
        {
            return dictionary.GetGenericArguments()[1];
        }

        return interfaces.FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
    }

    /// <summary>The known key closest to <paramref name="key"/>, when it is close enough to be the one meant.</summary>
    private static string? Nearest(string key, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(key.ToLower(CultureInfo.InvariantCulture), candidate.ToLower(CultureInfo.InvariantCulture));
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
