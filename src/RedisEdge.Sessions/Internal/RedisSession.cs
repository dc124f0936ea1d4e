using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// The <see cref="ISession"/> of one request. Nothing is sent to Redis until the session is read or written; the
/// first access loads and slides it (one script call) and the end of the request commits only the keys that changed
/// (one script call).
/// </summary>
/// <remarks>
/// <see cref="Id"/> is the session's non-secret handle (the hash of the id that also names its Redis key), never
/// the secret id carried by the cookie, so logging <c>Session.Id</c> hands out nothing usable.
/// </remarks>
internal sealed class RedisSession : ISession
{
    private readonly RedisSessionStore _store;
    private readonly HttpContext _context;
    private readonly ILogger _logger;
    private readonly Dictionary<string, byte[]?> _changes = new(StringComparer.Ordinal);
    private Dictionary<string, byte[]> _data = new(StringComparer.Ordinal);
    private string? _id;
    private string? _tag;
    private bool _isNew;
    private bool _loaded;
    private bool _degraded;
    private bool _cleared;
    private bool _persistEmpty;
    private string? _pendingUserTag;

    public RedisSession(RedisSessionStore store, HttpContext context, string? incomingId, bool viaHeader, bool readOnly, ILogger logger)
    {
        _store = store;
        _context = context;
        _logger = logger;
        ViaHeader = viaHeader;
        ReadOnly = readOnly;
        HadIncomingId = incomingId is not null;
        if (incomingId is not null)
        {
            _id = incomingId;
            _tag = RedisSessionStore.Tag(incomingId);
        }
        else
        {
            // Nothing to load: a request without a (well-formed) id costs no Redis call until it writes.
            _isNew = true;
            _loaded = true;
        }
    }

    public enum TransportAction
    {
        None,
        Issue,
        Delete,
    }

    public bool ReadOnly { get; }

    public bool ViaHeader { get; }

    public bool HadIncomingId { get; }

    /// <summary>What the response must do with the id when it starts.</summary>
    public TransportAction Transport { get; private set; }

    /// <summary>The secret id to send to the client; only meaningful when <see cref="Transport"/> is Issue.</summary>
    public string? SecretId => _id;

    /// <summary>Set when a Redis failure was thrown to the application; the middleware turns it into a 503.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Loaded, found in Redis and not degraded.</summary>
    public bool IsLive => _loaded && !_isNew && !_degraded;

    public bool IsLoaded => _loaded;

    public bool IsDegraded => _degraded;

    public string? UserTag { get; private set; }

    public long AbsoluteExpiry { get; private set; }

    /// <summary>The hash tag of the current id, or <see langword="null"/> while the session has no id.</summary>
    public string? Tag => _tag;

    public bool HasChanges => _changes.Count > 0 || _cleared || _pendingUserTag is not null || _persistEmpty;

    public bool IsAvailable
    {
        get
        {
            Load();
            return !_degraded;
        }
    }

    public string Id
    {
        get
        {
            Load();
            EnsureId();
            return _tag!;
        }
    }

    public IEnumerable<string> Keys
    {
        get
        {
            Load();
            var keys = new HashSet<string>(_data.Keys, StringComparer.Ordinal);
            foreach (var (key, value) in _changes)
            {
                if (value is null)
                {
                    keys.Remove(key);
                }
                else
                {
                    keys.Add(key);
                }
            }

            return keys;
        }
    }

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        Load();
        if (_changes.TryGetValue(key, out var changed))
        {
            value = changed;
            return value is not null;
        }

        return _data.TryGetValue(key, out value);
    }

    public void Set(string key, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        Load();
        EnsureWritable();
        if (!_changes.ContainsKey(key) && !_cleared && _data.TryGetValue(key, out var current) && current.AsSpan().SequenceEqual(value))
        {
            return;
        }

        Establish();
        _changes[key] = (byte[])value.Clone();
    }

    public void Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Load();
        EnsureWritable();
        if (_isNew)
        {
            _changes.Remove(key);
            return;
        }

        // Recorded even when this request never saw the key: a concurrent request may have added it.
        _changes[key] = null;
    }

    public void Clear()
    {
        Load();
        EnsureWritable();
        _changes.Clear();
        _data.Clear();
        _cleared = !_isNew;
    }

    public async Task LoadAsync(CancellationToken cancellationToken = default)
    {
        if (_loaded)
        {
            return;
        }

        RedisSessionRecord? record;
        try
        {
            record = await _store.LoadAsync(_tag!, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisEdgeUnavailableException ex) when (FailOpenOnLoad(ex))
        {
            return;
        }

        OnLoaded(record);
    }

    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        if (!HasChanges || !_loaded)
        {
            return;
        }

        if (ReadOnly)
        {
            Log.ReadOnlyChangesDiscarded(_logger);
            DiscardChanges();
            return;
        }

        try
        {
            if (_isNew)
            {
                await CreateAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await CommitChangesAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (RedisEdgeUnavailableException ex)
        {
            Failure = ex;
            throw;
        }
    }

    /// <summary>Makes sure the session exists in Redis (creating it if new) and returns its absolute expiry.</summary>
    public async Task<long> EnsurePersistedAsync(CancellationToken cancellationToken)
    {
        EnsureNotReadOnly();
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        EnsureWritable();
        if (_isNew)
        {
            Establish();
            _persistEmpty = true;
        }

        await CommitAsync(cancellationToken).ConfigureAwait(false);
        return AbsoluteExpiry;
    }

    /// <summary>Binds the (persisted) session to a user: one commit writing the user tag with any pending changes.</summary>
    public async Task SetUserAsync(string userTag, CancellationToken cancellationToken)
    {
        _pendingUserTag = userTag;
        await CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Moves the session to a fresh id: detach the old hash (the old id is dead from that moment), then create the
    /// new one with the detached fields. Returns the old tag and the user tag of a moved session.
    /// </summary>
    public async Task<(string? OldTag, string? UserTag)> RegenerateAsync(CancellationToken cancellationToken)
    {
        EnsureNotReadOnly();
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        EnsureWritable();
        EnsureResponseNotStarted();
        if (_isNew)
        {
            // Nothing in Redis yet; a new id is enough (the old one, if any, was never live).
            _id = RedisSessionIds.Create();
            _tag = RedisSessionStore.Tag(_id);
            if (HasChanges)
            {
                Transport = TransportAction.Issue;
            }

            return (null, null);
        }

        var oldTag = _tag!;
        RedisSessionRecord? record;
        try
        {
            record = await _store.DetachAsync(oldTag, cancellationToken).ConfigureAwait(false);
            _id = RedisSessionIds.Create();
            _tag = RedisSessionStore.Tag(_id);
            Transport = TransportAction.Issue;
            if (record is null)
            {
                ResetToNew();
                return (oldTag, null);
            }

            Apply(record);
            var fields = new List<KeyValuePair<string, byte[]>>(record.Data.Count + 3)
            {
                new(RedisSessionFields.Created, System.Text.Encoding.ASCII.GetBytes(record.CreatedAt.ToString(System.Globalization.CultureInfo.InvariantCulture))),
                new(RedisSessionFields.AbsoluteExpiry, System.Text.Encoding.ASCII.GetBytes(record.AbsoluteExpiry.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            };
            if (record.UserTag is not null)
            {
                fields.Add(new(RedisSessionFields.User, System.Text.Encoding.ASCII.GetBytes(record.UserTag)));
            }

            foreach (var (key, value) in record.Data)
            {
                fields.Add(new(RedisSessionFields.DataPrefix + key, value));
            }

            var created = await _store.CreateAsync(_tag, fields, cancellationToken).ConfigureAwait(false);
            if (created <= 0)
            {
                ResetToNew();
            }

            return (oldTag, record.UserTag);
        }
        catch (RedisEdgeUnavailableException ex)
        {
            Failure = ex;
            throw;
        }
    }

    /// <summary>Destroys the session in Redis and leaves a fresh, empty one (without an id) for the rest of the request.</summary>
    public async Task<(bool Destroyed, string? OldTag, string? UserTag)> DestroyAsync(CancellationToken cancellationToken)
    {
        var tag = _isNew ? null : _tag;
        var result = (Destroyed: false, OldTag: tag, UserTag: (string?)null);
        if (tag is not null)
        {
            try
            {
                var (deleted, userTag) = await _store.DestroyAsync(tag, expectedUserTag: null, cancellationToken).ConfigureAwait(false);
                result = (deleted, tag, userTag.Length == 0 ? null : userTag);
            }
            catch (RedisEdgeUnavailableException ex)
            {
                Failure = ex;
                throw;
            }
        }

        _id = null;
        _tag = null;
        ResetToNew();
        _loaded = true;
        _degraded = false;
        Transport = HadIncomingId ? TransportAction.Delete : TransportAction.None;
        return result;
    }

    /// <summary>Called when the response starts: commit (so the client cannot race ahead of it) and send the id.</summary>
    public async Task OnResponseStartingAsync()
    {
        if (HasChanges && !ReadOnly && Failure is null)
        {
            try
            {
                await CommitAsync(_context.RequestAborted).ConfigureAwait(false);
            }
            catch (RedisEdgeUnavailableException ex)
            {
                // Headers are not sent yet: the status can still say the write failed, even though the endpoint
                // already began its body.
                Log.CommitFailedAfterStart(_logger, ex);
                _context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                _context.Response.Headers.CacheControl = "no-store";
                return;
            }
        }

        WriteTransport();
    }

    private void WriteTransport()
    {
        var options = _store.Options;
        var response = _context.Response;
        switch (Transport)
        {
            case TransportAction.Issue when _id is not null:
                if (ViaHeader)
                {
                    response.Headers[options.HeaderName!] = _id;
                }
                else
                {
                    response.Cookies.Append(options.Cookie.Name, _id, BuildCookie(options.Cookie, expired: false));
                }

                // A response that sets the id must never be cached and replayed to another client.
                response.Headers.CacheControl = "no-cache,no-store";
                response.Headers.Pragma = "no-cache";
                break;
            case TransportAction.Delete:
                if (ViaHeader)
                {
                    response.Headers[options.HeaderName!] = string.Empty;
                }
                else
                {
                    response.Cookies.Delete(options.Cookie.Name, BuildCookie(options.Cookie, expired: true));
                }

                break;
        }
    }

    private CookieOptions BuildCookie(RedisSessionCookieOptions cookie, bool expired)
    {
        var secure = cookie.SecurePolicy switch
        {
            CookieSecurePolicy.Always => true,
            CookieSecurePolicy.None => false,
            _ => _context.Request.IsHttps,
        };
        var options = new CookieOptions
        {
            Path = cookie.Path,
            Domain = cookie.Domain,
            HttpOnly = cookie.HttpOnly,
            SameSite = cookie.SameSite,
            Secure = secure,
            IsEssential = true,
        };
        if (expired)
        {
            options.Expires = DateTimeOffset.UnixEpoch;
        }

        return options;
    }

    private async Task CreateAsync(CancellationToken cancellationToken)
    {
        var fields = new List<KeyValuePair<string, byte[]>>(_changes.Count + 1);
        foreach (var (key, value) in _changes)
        {
            if (value is not null)
            {
                fields.Add(new(RedisSessionFields.DataPrefix + key, value));
            }
        }

        if (_pendingUserTag is not null)
        {
            fields.Add(new(RedisSessionFields.User, System.Text.Encoding.ASCII.GetBytes(_pendingUserTag)));
        }

        if (fields.Count == 0 && !_persistEmpty)
        {
            DiscardChanges();
            return;
        }

        EnsureId();
        var absolute = await _store.CreateAsync(_tag!, fields, cancellationToken).ConfigureAwait(false);
        if (absolute <= 0)
        {
            // 0 means a 256-bit random id collided with a live one; -1 cannot happen for a brand-new session.
            throw new InvalidOperationException("A new session could not be created under a fresh id.");
        }

        _store.Telemetry.Created.Add(1);
        _isNew = false;
        AbsoluteExpiry = absolute;
        UserTag = _pendingUserTag ?? UserTag;
        MergeChanges();
    }

    private async Task CommitChangesAsync(CancellationToken cancellationToken)
    {
        var sets = new List<KeyValuePair<string, byte[]>>(_changes.Count + 1);
        var removes = new List<string>();
        foreach (var (key, value) in _changes)
        {
            if (value is null)
            {
                removes.Add(RedisSessionFields.DataPrefix + key);
            }
            else
            {
                sets.Add(new(RedisSessionFields.DataPrefix + key, value));
            }
        }

        if (_pendingUserTag is not null)
        {
            sets.Add(new(RedisSessionFields.User, System.Text.Encoding.ASCII.GetBytes(_pendingUserTag)));
        }

        var committed = await _store.CommitAsync(_tag!, _cleared, sets, removes, cancellationToken).ConfigureAwait(false);
        if (!committed)
        {
            // Destroyed, revoked or expired meanwhile: the commit wrote nothing, the session stays dead.
            Log.CommitOnEndedSession(_logger);
            DiscardChanges();
            return;
        }

        _store.Telemetry.Committed.Add(1);
        UserTag = _pendingUserTag ?? UserTag;
        MergeChanges();
    }

    private void Apply(RedisSessionRecord record)
    {
        _data = record.Data;
        UserTag = record.UserTag;
        AbsoluteExpiry = record.AbsoluteExpiry;
        _isNew = false;
    }

    private void MergeChanges()
    {
        if (_cleared)
        {
            _data.Clear();
        }

        foreach (var (key, value) in _changes)
        {
            if (value is null)
            {
                _data.Remove(key);
            }
            else
            {
                _data[key] = value;
            }
        }

        DiscardChanges();
    }

    private void DiscardChanges()
    {
        _changes.Clear();
        _cleared = false;
        _persistEmpty = false;
        _pendingUserTag = null;
    }

    private void ResetToNew()
    {
        _isNew = true;
        _id = null;
        _tag = null;
        _data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        UserTag = null;
        AbsoluteExpiry = 0;
        DiscardChanges();
        if (Transport == TransportAction.Issue)
        {
            Transport = TransportAction.None;
        }
    }

    private void Load()
    {
        if (_loaded)
        {
            return;
        }

        // ISession's synchronous members (GetString, ...) block like Microsoft.AspNetCore.Session does, but on
        // StackExchange.Redis' synchronous path, which needs no thread-pool thread. `await Session.LoadAsync()` avoids it.
        RedisSessionRecord? record;
        try
        {
            record = _store.Load(_tag!);
        }
        catch (RedisEdgeUnavailableException ex) when (FailOpenOnLoad(ex))
        {
            return;
        }

        OnLoaded(record);
    }

    /// <summary>Applies the failure policy to a failed load; <see langword="true"/> when the request continues (FailOpen).</summary>
    private bool FailOpenOnLoad(RedisEdgeUnavailableException exception)
    {
        if (_store.Options.Failure.Mode == RedisFailureMode.FailOpen)
        {
            Log.LoadFailedOpen(_logger, exception);
            _degraded = true;
            _loaded = true;
            return true;
        }

        Failure = exception;
        return false;
    }

    private void OnLoaded(RedisSessionRecord? record)
    {
        _loaded = true;
        if (record is null)
        {
            // Expired, destroyed, or never issued by us: never adopt the id, start over with a fresh one.
            _store.Telemetry.ExpiredOnArrival.Add(1);
            Log.SessionNotFound(_logger);
            ResetToNew();
            return;
        }

        _store.Telemetry.Loaded.Add(1);
        Apply(record);
    }

    private void EnsureId()
    {
        if (_id is null)
        {
            _id = RedisSessionIds.Create();
            _tag = RedisSessionStore.Tag(_id);
        }
    }

    private void EnsureWritable()
    {
        if (_degraded)
        {
            var ex = new RedisEdgeUnavailableException("The session could not be loaded because Redis is unavailable; it cannot be changed.");
            Failure = ex;
            throw ex;
        }
    }

    /// <summary>First write to a new session: give it an id and arrange for the response to carry it.</summary>
    private void Establish()
    {
        if (!_isNew || ReadOnly || Transport == TransportAction.Issue)
        {
            return;
        }

        EnsureResponseNotStarted();
        EnsureId();
        Transport = TransportAction.Issue;
    }

    private void EnsureNotReadOnly()
    {
        if (ReadOnly)
        {
            throw new InvalidOperationException("The endpoint is marked [ReadOnlySession]; the session cannot be regenerated or bound to a user there.");
        }
    }

    private void EnsureResponseNotStarted()
    {
        if (_context.Response.HasStarted)
        {
            throw new InvalidOperationException("The session cannot be established or given a new id after the response has started.");
        }
    }
}
