using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// How the session id travels: read from the request (cookie, or the configured header), and what the response must
/// send back (a new id, a deletion, or nothing). Only ids of sessions that exist in Redis are ever sent.
/// </summary>
internal sealed class RedisSessionTransport
{
    private readonly HttpContext _context;
    private readonly RedisSessionOptions _options;
    private readonly string? _incoming;
    private readonly int _idLength;
    private Outgoing _outgoing;
    private string? _issuedId;
    private string? _incomingId;

    private RedisSessionTransport(HttpContext context, RedisSessionOptions options, string? incoming, bool viaHeader)
    {
        _context = context;
        _options = options;
        ViaHeader = viaHeader;
        if (incoming is null)
        {
            return;
        }

        // "<id>.<version>" under the near cache: the version the client's last write produced, which a near copy must
        // have reached before it may answer this client. Not secret and not trusted for anything else: a client that
        // sends a wrong one only makes its own reads go to Redis (too high) or see its own older copy (too low).
        var dot = incoming.IndexOf('.', StringComparison.Ordinal);
        var id = dot < 0 ? incoming.AsSpan() : incoming.AsSpan(0, dot);
        if (!RedisSessionIds.IsWellFormed(id))
        {
            return;
        }

        if (dot >= 0)
        {
            if (!long.TryParse(incoming.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                return;
            }

            IncomingVersion = version;
        }

        // The id is cut out of "<id>.<version>" only if a response has to send it back (a commit): a read needs only
        // its hash.
        _incoming = incoming;
        _idLength = id.Length;
    }

    private enum Outgoing
    {
        None,
        Issue,
        Delete,
    }

    /// <summary>The well-formed id the request carried, or <see langword="null"/>; anything malformed is dropped here.</summary>
    public string? IncomingId => _incoming is null ? null : _incomingId ??= _idLength == _incoming.Length ? _incoming : _incoming[.._idLength];

    /// <summary>Whether the request carried a well-formed id.</summary>
    public bool HasIncomingId => _incoming is not null;

    /// <summary>The characters of <see cref="IncomingId"/>, without making a string of them.</summary>
    public ReadOnlySpan<char> IncomingIdSpan => _incoming.AsSpan(0, _idLength);

    /// <summary>The session version the request carried after its id (near cache), or 0.</summary>
    public long IncomingVersion { get; }

    /// <summary>Whether the id sent to the client carries the session's version (the near cache is on).</summary>
    public bool CarriesVersion => _options.NearCache.Enabled;

    /// <summary>The request used the header transport: answer in the header, never with a cookie.</summary>
    public bool ViaHeader { get; }

    /// <summary>
    /// Whether a new session may be given to this client. A non-essential cookie needs consent when the app uses
    /// <c>CookiePolicyOptions.CheckConsentNeeded</c>: without it the cookie would be suppressed, so the session is not
    /// created in Redis at all (nothing the client could ever come back to).
    /// </summary>
    public bool CanEstablish => ViaHeader || _options.Cookie.IsEssential || _context.Features.Get<ITrackingConsentFeature>()?.CanTrack != false;

    public static RedisSessionTransport Read(HttpContext context, RedisSessionOptions options)
    {
        var request = context.Request;
        if (options.HeaderName is { } header && request.Headers.TryGetValue(header, out var headerValues))
        {
            var value = headerValues.Count == 1 ? headerValues[0] : null;
            return new(context, options, IsPlausible(value) ? value : null, viaHeader: true);
        }

        var cookie = request.Cookies[options.Cookie.Name!];
        return new(context, options, IsPlausible(cookie) ? cookie : null, viaHeader: false);
    }

    /// <summary>
    /// Sends <paramref name="id"/> (followed by <paramref name="version"/> under the near cache) when the response
    /// starts; call only once the session exists in Redis at that version.
    /// </summary>
    public void Issue(string id, long version)
    {
        _outgoing = Outgoing.Issue;
        _issuedId = CarriesVersion ? string.Concat(id, ".", version.ToString(CultureInfo.InvariantCulture)) : id;
    }

    /// <summary>The session ended (logout): remove the client's id, if it sent one.</summary>
    public void Expire()
    {
        _outgoing = HasIncomingId ? Outgoing.Delete : Outgoing.None;
        _issuedId = null;
    }

    /// <summary>A step failed: send no new id (the session it names may not exist).</summary>
    public void Withhold()
    {
        if (_outgoing == Outgoing.Issue)
        {
            _outgoing = Outgoing.None;
            _issuedId = null;
        }
    }

    // An id, optionally followed by "." and at most 19 digits; anything longer is dropped before it is parsed.
    private static bool IsPlausible(string? value) => value is { Length: >= RedisSessionIds.Length and <= RedisSessionIds.Length + 20 };

    /// <summary>Writes what was decided; called when the response starts.</summary>
    public void Write()
    {
        var response = _context.Response;
        switch (_outgoing)
        {
            case Outgoing.Issue:
                if (ViaHeader)
                {
                    response.Headers[_options.HeaderName!] = _issuedId;
                }
                else
                {
                    response.Cookies.Append(_options.Cookie.Name!, _issuedId!, _options.Cookie.Build(_context));
                }

                // A response that sets the id must never be cached and replayed to another client.
                response.Headers.CacheControl = "no-cache,no-store";
                response.Headers.Pragma = "no-cache";
                break;
            case Outgoing.Delete:
                if (ViaHeader)
                {
                    response.Headers[_options.HeaderName!] = string.Empty;
                }
                else
                {
                    response.Cookies.Delete(_options.Cookie.Name!, _options.Cookie.Build(_context));
                }

                break;
        }
    }
}
