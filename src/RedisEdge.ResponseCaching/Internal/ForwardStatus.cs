namespace RedisEdge.ResponseCaching.Internal;

/// <summary>Why a request went to the origin: the <c>fwd</c> parameter of <c>Cache-Status</c> (RFC 9211 §2.2.2).</summary>
internal enum ForwardReason
{
    /// <summary><c>bypass</c>: the cache was not consulted (credentials, Redis unavailable or failing).</summary>
    Bypass,

    /// <summary><c>miss</c>: the cache was consulted but may not be used (a pass marker).</summary>
    Miss,

    /// <summary><c>uri-miss</c>: nothing stored for the variant.</summary>
    UriMiss,

    /// <summary><c>stale</c>: only a copy past its fresh and stale-while-revalidate windows.</summary>
    Stale,
}

/// <summary>
/// The <c>Cache-Status</c> a forwarded request starts with: why it was forwarded, an optional <c>detail</c> (such as
/// <c>pass</c>, <c>head</c> or <c>fill-wait-timeout</c>), and whether it had waited for another request's fill.
/// </summary>
internal readonly record struct ForwardStatus(ForwardReason Reason, string? Detail = null, bool Collapsed = false)
{
    public static ForwardStatus Missing(bool stored) => new(stored ? ForwardReason.Stale : ForwardReason.UriMiss);

    /// <summary>The header value once the origin answered <paramref name="status"/>; <paramref name="detail"/> replaces <see cref="Detail"/>.</summary>
    public string Format(int? status = null, bool stored = false, string? detail = null) =>
        HttpCaching.Forward(Reason, status, stored, Collapsed, detail ?? Detail);

    public ForwardStatus WithDetail(string detail) => this with { Detail = detail };
}
