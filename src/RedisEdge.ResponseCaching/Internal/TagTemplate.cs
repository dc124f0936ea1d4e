using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Routing;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>A policy tag: a constant (<c>products</c>) or a template over route values (<c>product:{id}</c>).</summary>
internal sealed class TagTemplate
{
    private readonly (string Text, bool IsRouteValue)[] _parts;

    private TagTemplate(string template, (string, bool)[] parts)
    {
        Template = template;
        _parts = parts;
    }

    public string Template { get; }

    /// <summary>Parses <paramref name="template"/>; returns an error message when it is malformed.</summary>
    public static TagTemplate? TryParse(string? template, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(template))
        {
            error = "must not be empty";
            return null;
        }

        var parts = new List<(string, bool)>();
        var literal = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '}')
            {
                error = $"'{template}' has a '}}' without a matching '{{'";
                return null;
            }

            if (c != '{')
            {
                literal.Append(c);
                continue;
            }

            var end = template.IndexOf('}', i + 1);
            if (end < 0)
            {
                error = $"'{template}' has a '{{' without a matching '}}'";
                return null;
            }

            var name = template[(i + 1)..end];
            if (name.Length == 0 || name.Contains('{', StringComparison.Ordinal))
            {
                error = $"'{template}' must name a route value between braces, like product:{{id}}";
                return null;
            }

            if (literal.Length > 0)
            {
                parts.Add((literal.ToString(), false));
                literal.Clear();
            }

            parts.Add((name, true));
            i = end;
        }

        if (literal.Length > 0)
        {
            parts.Add((literal.ToString(), false));
        }

        return new TagTemplate(template, [.. parts]);
    }

    /// <summary>The tag for one request; a missing route value resolves to an empty string.</summary>
    public string Resolve(RouteValueDictionary routeValues)
    {
        if (_parts is [(var text, false)])
        {
            return text;
        }

        var builder = new StringBuilder();
        foreach (var (part, isRouteValue) in _parts)
        {
            builder.Append(isRouteValue ? Convert.ToString(routeValues.GetValueOrDefault(part), CultureInfo.InvariantCulture) : part);
        }

        return builder.ToString();
    }
}
