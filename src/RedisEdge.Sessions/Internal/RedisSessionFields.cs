namespace RedisEdge.Sessions.Internal;

/// <summary>Field names inside a session hash (see <c>Scripts/load.lua</c>).</summary>
internal static class RedisSessionFields
{
    public const string DataPrefix = "d:";
    public const string Created = "m:c";
    public const string AbsoluteExpiry = "m:a";
    public const string User = "m:u";

    /// <summary>The bytes the data fields take, kept by the scripts while <c>MaxSessionBytes</c> is set.</summary>
    public const string Size = "m:s";

    /// <summary>Present while the session is being bound to a user: not live until <c>activate.lua</c> removes it.</summary>
    public const string Pending = "m:p";

    /// <summary>Incremented by every commit; a near copy is current only at the version Redis holds.</summary>
    public const string Version = "m:v";
}
