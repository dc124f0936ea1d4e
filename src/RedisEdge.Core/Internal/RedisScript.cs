using System.Reflection;

namespace RedisEdge.Internal;

/// <summary>
/// A Lua script embedded in a feature assembly (<c>Scripts/*.lua</c>).
/// </summary>
/// <remarks>
/// A script's first call on a server goes through <c>IDatabase.ScriptEvaluateAsync(string, ...)</c>: StackExchange.Redis
/// sends <c>EVAL</c> and <c>SCRIPT LOAD</c>, and handles <c>NOSCRIPT</c> itself. Later calls send <c>EVALSHA</c> with
/// <see cref="Hash"/> (see <see cref="RedisScriptRunner"/>), because the text path looks the text up in a table on
/// every call, which hashes the whole text each time (about 13 µs of CPU for the 14 KB of <c>rate_limit.lua</c> with
/// its comments, 7 µs for its compacted 8 KB). The SHA always travels with its text, so a server that lost the script
/// gets the text again. <see cref="Text"/> is the file without its comments and indentation (see <see cref="Compact"/>),
/// while the file keeps its documentation.
/// </remarks>
internal sealed class RedisScript
{
    private RedisScript(string name, string text)
    {
        Name = name;
        Text = text;
        // Redis names scripts by SHA-1; it identifies the text here, it protects nothing.
#pragma warning disable CA5350
        Hash = System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
    }

    /// <summary>The file name without <c>.lua</c>, used in spans and metrics.</summary>
    public string Name { get; }

    /// <summary>The script as sent to Redis: the file without comments and indentation, with every line break kept.</summary>
    public string Text { get; }

    /// <summary>The SHA-1 of <see cref="Text"/> (UTF-8), as Redis names the script: what <c>EVALSHA</c> sends.</summary>
    public byte[] Hash { get; }

    public static RedisScript FromResource(Assembly assembly, string fileName)
    {
        var suffix = ".Scripts." + fileName;
        var resource = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Embedded script '{fileName}' was not found in {assembly.GetName().Name}.");
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        var name = Path.GetFileNameWithoutExtension(fileName);
        return new RedisScript(name, Compact(reader.ReadToEnd()));
    }

    /// <summary>
    /// Removes Lua comments (<c>-- ...</c> and <c>--[[ ... ]]</c>), indentation and trailing blanks, outside string
    /// literals and long strings, which are kept byte for byte. Every line break stays, so a line number in a Lua error
    /// (<c>user_script:42:</c>) still points at the line of the file.
    /// </summary>
    internal static string Compact(string lua)
    {
        var output = new System.Text.StringBuilder(lua.Length);
        var lineStart = true;
        var i = 0;
        while (i < lua.Length)
        {
            var c = lua[i];
            if (c == '\n')
            {
                TrimTrailingBlanks(output);
                output.Append('\n');
                lineStart = true;
                i++;
            }
            else if (c is '\r' || (lineStart && c is ' ' or '\t'))
            {
                i++;
            }
            else if (c == '-' && i + 1 < lua.Length && lua[i + 1] == '-')
            {
                // A comment: a long one keeps its line breaks, a short one runs to the end of the line.
                var level = LongBracketLevel(lua, i + 2);
                var end = level >= 0 ? LongBracketEnd(lua, i + 2, level) : lua.IndexOf('\n', i);
                end = end < 0 ? lua.Length : end;
                var lines = lua.AsSpan(i, end - i).Count('\n');

                // A comment separates tokens like a blank: one inside a line leaves one.
                if (lines == 0)
                {
                    output.Append(' ');
                }
                else
                {
                    TrimTrailingBlanks(output);
                    output.Append('\n', lines);
                    lineStart = true;
                }

                i = end;
            }
            else if (c is '\'' or '"')
            {
                var end = i + 1;
                while (end < lua.Length && lua[end] != c && lua[end] != '\n')
                {
                    end += lua[end] == '\\' ? 2 : 1;
                }

                end = Math.Min(end + 1, lua.Length);
                output.Append(lua, i, end - i);
                lineStart = false;
                i = end;
            }
            else if (c == '[' && LongBracketLevel(lua, i) is var level and >= 0)
            {
                var end = LongBracketEnd(lua, i, level);
                end = end < 0 ? lua.Length : end;
                output.Append(lua, i, end - i);
                lineStart = false;
                i = end;
            }
            else
            {
                output.Append(c);
                lineStart = false;
                i++;
            }
        }

        TrimTrailingBlanks(output);
        return output.ToString();
    }

    /// <summary>The level of a long bracket (<c>[[</c> is 0, <c>[==[</c> is 2) opening at <paramref name="start"/>, or -1.</summary>
    private static int LongBracketLevel(string lua, int start)
    {
        if (start >= lua.Length || lua[start] != '[')
        {
            return -1;
        }

        var i = start + 1;
        while (i < lua.Length && lua[i] == '=')
        {
            i++;
        }

        return i < lua.Length && lua[i] == '[' ? i - start - 1 : -1;
    }

    /// <summary>The index just past the long bracket of <paramref name="level"/> opened at <paramref name="start"/>, or -1.</summary>
    private static int LongBracketEnd(string lua, int start, int level)
    {
        var close = "]" + new string('=', level) + "]";
        var end = lua.IndexOf(close, start + level + 2, StringComparison.Ordinal);
        return end < 0 ? -1 : end + close.Length;
    }

    private static void TrimTrailingBlanks(System.Text.StringBuilder output)
    {
        while (output.Length > 0 && output[^1] is ' ' or '\t')
        {
            output.Length--;
        }
    }

    public override string ToString() => Name;
}
