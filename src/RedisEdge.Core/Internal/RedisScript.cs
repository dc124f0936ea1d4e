using System.Reflection;

namespace RedisEdge.Internal;

/// <summary>
/// A Lua script embedded in a feature assembly (<c>Scripts/*.lua</c>).
/// </summary>
/// <remarks>
/// Scripts run through <c>IDatabase.ScriptEvaluateAsync(string, ...)</c>: StackExchange.Redis hashes the text,
/// sends <c>SCRIPT LOAD</c> once per server and <c>EVALSHA</c> afterwards, so no SHA is kept here.
/// </remarks>
internal sealed class RedisScript
{
    private RedisScript(string name, string text)
    {
        Name = name;
        Text = text;
    }

    /// <summary>The file name without <c>.lua</c>, used in spans and metrics.</summary>
    public string Name { get; }

    public string Text { get; }

    public static RedisScript FromResource(Assembly assembly, string fileName)
    {
        var suffix = ".Scripts." + fileName;
        var resource = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(suffix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Embedded script '{fileName}' was not found in {assembly.GetName().Name}.");
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        var name = Path.GetFileNameWithoutExtension(fileName);
        return new RedisScript(name, reader.ReadToEnd());
    }

    public override string ToString() => Name;
}
