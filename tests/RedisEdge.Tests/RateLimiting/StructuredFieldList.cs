using System.Globalization;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// A strict parser for the subset of RFC 9651 structured-field lists the rate-limit fields use: members that are
/// strings or tokens, each with parameters whose values are integers, strings, tokens or booleans.
/// Throws <see cref="FormatException"/> on anything the RFC would reject.
/// </summary>
internal static class StructuredFieldList
{
    public static List<(string Item, Dictionary<string, object> Parameters)> Parse(string input)
    {
        var result = new List<(string, Dictionary<string, object>)>();
        var i = 0;
        SkipSp(input, ref i);
        if (i == input.Length)
        {
            return result;
        }

        while (true)
        {
            var item = ParseBareItem(input, ref i);
            var parameters = new Dictionary<string, object>();
            while (i < input.Length && input[i] == ';')
            {
                i++;
                SkipSp(input, ref i);
                var key = ParseKey(input, ref i);
                object value = true;
                if (i < input.Length && input[i] == '=')
                {
                    i++;
                    value = ParseBareItemValue(input, ref i);
                }

                parameters[key] = value;
            }

            result.Add((item is string s ? s : throw new FormatException("Member is not a string or token."), parameters));
            SkipOws(input, ref i);
            if (i == input.Length)
            {
                return result;
            }

            if (input[i] != ',')
            {
                throw new FormatException($"Expected ',' at {i} in '{input}'.");
            }

            i++;
            SkipOws(input, ref i);
            if (i == input.Length)
            {
                throw new FormatException("Trailing comma.");
            }
        }
    }

    private static object ParseBareItem(string s, ref int i) => ParseBareItemValue(s, ref i);

    private static object ParseBareItemValue(string s, ref int i)
    {
        if (i >= s.Length)
        {
            throw new FormatException("Unexpected end.");
        }

        var c = s[i];
        if (c == '"')
        {
            i++;
            var builder = new System.Text.StringBuilder();
            while (true)
            {
                if (i >= s.Length)
                {
                    throw new FormatException("Unterminated string.");
                }

                var ch = s[i++];
                if (ch == '\\')
                {
                    if (i >= s.Length || s[i] is not ('"' or '\\'))
                    {
                        throw new FormatException("Bad escape.");
                    }

                    builder.Append(s[i++]);
                }
                else if (ch == '"')
                {
                    return builder.ToString();
                }
                else if (ch < 0x20 || ch > 0x7E)
                {
                    throw new FormatException("Invalid string character.");
                }
                else
                {
                    builder.Append(ch);
                }
            }
        }

        if (c == '-' || char.IsAsciiDigit(c))
        {
            var start = i;
            if (c == '-')
            {
                i++;
            }

            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            var digits = s[start..i];
            if (digits.TrimStart('-').Length is 0 or > 15 || (i < s.Length && s[i] == '.'))
            {
                throw new FormatException($"Not an sf-integer: '{digits}'.");
            }

            return long.Parse(digits, CultureInfo.InvariantCulture);
        }

        if (char.IsAsciiLetter(c) || c == '*')
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || "!#$%&'*+-.^_`|~:/".Contains(s[i], StringComparison.Ordinal)))
            {
                i++;
            }

            return s[start..i];
        }

        if (c == '?')
        {
            i++;
            return s[i++] == '1';
        }

        throw new FormatException($"Unexpected '{c}' at {i}.");
    }

    private static string ParseKey(string s, ref int i)
    {
        if (i >= s.Length || !(char.IsAsciiLetterLower(s[i]) || s[i] == '*'))
        {
            throw new FormatException($"Bad parameter key at {i}.");
        }

        var start = i;
        while (i < s.Length && (char.IsAsciiLetterLower(s[i]) || char.IsAsciiDigit(s[i]) || s[i] is '_' or '-' or '.' or '*'))
        {
            i++;
        }

        return s[start..i];
    }

    private static void SkipSp(string s, ref int i)
    {
        while (i < s.Length && s[i] == ' ')
        {
            i++;
        }
    }

    private static void SkipOws(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t')
        {
            i++;
        }
    }
}
