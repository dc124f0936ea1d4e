using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// The session scripts (<c>Scripts/*.lua</c>) behind typed methods. One method = one script call = one round trip.
/// </summary>
internal sealed class RedisSessionStore
{
    private static readonly RedisScript LoadScript = FromResource("load.lua");
    private static readonly RedisScript FetchScript = FromResource("fetch.lua");
    private static readonly RedisScript CommitScript = FromResource("commit.lua");
    private static readonly RedisScript CreateScript = FromResource("create.lua");
    private static readonly RedisScript ActivateScript = FromResource("activate.lua");
    private static readonly RedisScript DetachScript = FromResource("detach.lua");
    private static readonly RedisScript DestroyScript = FromResource("destroy.lua");
    private static readonly RedisScript PeekScript = FromResource("peek.lua");
    private static readonly RedisScript UserBindScript = FromResource("user_bind.lua");
    private static readonly RedisScript UserListScript = FromResource("user_list.lua");
    private static readonly RedisScript UserRemoveScript = FromResource("user_remove.lua");

    /// <summary>
    /// The most sessions one operation on a user's index handles per round trip: members named by one script call,
    /// and calls in flight at once (one per session, each in its own Cluster slot). Keeps a user with thousands of
    /// sessions from sending one huge script or thousands of calls at once.
    /// </summary>
    public const int BatchSize = 256;

    /// <summary>What <c>commit.lua</c> and <c>create.lua</c> return when the data would exceed <c>MaxSessionBytes</c>.</summary>
    private const long TooLarge = -2;

    private readonly RedisScriptRunner _runner;
    private readonly RedisKeyBuilder _keys;
    private readonly TimeProvider _timeProvider;
    private readonly RedisValue _idleMilliseconds;
    private readonly RedisValue _absoluteMilliseconds;
    private readonly RedisValue _idleHorizonMilliseconds;
    private readonly RedisValue _maxSessionBytes;
    private readonly RedisValue _channel;

    public RedisSessionStore(
        RedisEdgeConnection connection,
        RedisKeyBuilder keys,
        RedisSessionTelemetry telemetry,
        IOptions<RedisSessionOptions> options,
        RedisSessionNearCache near,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider)
    {
        Options = options.Value;
        Near = near;
        Channel = RedisChannel.Literal(keys.FeaturePrefix(RedisSessionDefaults.KeyFeature) + "near");
        _channel = near.Enabled ? (string)Channel! : string.Empty;
        Telemetry = telemetry;
        _keys = keys;
        _timeProvider = timeProvider;
        _runner = new RedisScriptRunner(connection, telemetry.Feature, Options.Failure, loggerFactory.CreateLogger("RedisEdge.Sessions"), timeProvider);
        _idleMilliseconds = ToMilliseconds(Options.IdleTimeout);
        _absoluteMilliseconds = ToMilliseconds(Options.AbsoluteLifetime);
        _maxSessionBytes = Options.MaxSessionBytes;
        _idleHorizonMilliseconds = Math.Max(0, (long)(Options.AbsoluteLifetime - Options.IdleTimeout).TotalMilliseconds);

        // Long enough for the calls between the first and the last step of a binding (each bounded by the timeout),
        // short enough that an abandoned binding does not hold a place in the user's limit for long.
        PendingMilliseconds = ToMilliseconds(TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(10).Ticks, Options.Failure.Timeout.Ticks * 10)));
    }

    public RedisSessionOptions Options { get; }

    public RedisSessionTelemetry Telemetry { get; }

    /// <summary>The near cache; every script that changes or deletes a session drops this instance's copy itself.</summary>
    public RedisSessionNearCache Near { get; }

    /// <summary>The pub/sub channel the scripts publish near-cache invalidations to (only while the near cache is on).</summary>
    public RedisChannel Channel { get; }

    /// <summary>How long a session being bound to a user stays pending (the <c>m:p</c> field) at most.</summary>
    public long PendingMilliseconds { get; }

    public bool IsCircuitOpen => _runner.IsCircuitOpen;

    /// <summary>
    /// Test seam: awaited before every asynchronous script call with the script's name, so a test can make a chosen
    /// step of a multi-step operation fail against a real Redis (pause it, revoke the client's permission).
    /// </summary>
    internal Func<string, Task>? BeforeScriptCall { get; set; }

    /// <summary>
    /// Test seam: told when each asynchronous script call is sent (with the script's name and its number of keys plus
    /// arguments) and when it has completed, so a test can count the calls in flight and the size of each.
    /// </summary>
    internal Action<string, int>? ScriptCallStarted { get; set; }

    /// <inheritdoc cref="ScriptCallStarted"/>
    internal Action<string>? ScriptCallEnded { get; set; }

    /// <summary>The hash tag of a session id: the only form of the id that ever reaches Redis.</summary>
    public static string Tag(string sessionId) => RedisKeyBuilder.Hash(sessionId);

    /// <summary>The hash tag of a user id.</summary>
    public static string UserTag(string userId) => RedisKeyBuilder.Hash("user:" + userId);

    public RedisKey SessionKey(string tag) => _keys.Key(RedisSessionDefaults.KeyFeature, tag);

    public RedisKey UserKey(string userTag) => _keys.Key(RedisSessionDefaults.KeyFeature, userTag, "user");

    /// <summary>Loads and slides; <see langword="null"/> when there is no live session.</summary>
    public async Task<RedisSessionRecord?> LoadAsync(string tag, CancellationToken cancellationToken)
        => ParseRecord(await EvaluateAsync(LoadScript, [SessionKey(tag)], [_idleMilliseconds], cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Synchronous <see cref="LoadAsync"/>, only for the first synchronous touch of a session in
    /// <see cref="RedisSessionLoadMode.Lazy"/> mode. Blocks the calling thread for at most <c>Failure:Timeout</c>.
    /// </summary>
    public RedisSessionRecord? Load(string tag) => ParseRecord(_runner.Evaluate(LoadScript, [SessionKey(tag)], [_idleMilliseconds]));

    /// <summary>
    /// The near cache's load: slides only when <paramref name="slide"/>, and sends the fields only when the session's
    /// version differs from <paramref name="knownVersion"/> (-1 = none held). <see langword="null"/> when there is no
    /// live session.
    /// </summary>
    public async Task<RedisSessionFetch?> FetchAsync(string tag, bool slide, long knownVersion, CancellationToken cancellationToken)
        => ParseFetch(await EvaluateAsync(FetchScript, [SessionKey(tag)], [slide ? _idleMilliseconds : 0, knownVersion], cancellationToken).ConfigureAwait(false));

    /// <summary>Synchronous <see cref="FetchAsync"/>, for the first synchronous touch in lazy mode.</summary>
    public RedisSessionFetch? Fetch(string tag, bool slide, long knownVersion)
        => ParseFetch(_runner.Evaluate(FetchScript, [SessionKey(tag)], [slide ? _idleMilliseconds : 0, knownVersion]));

    /// <summary>
    /// Writes only the given changes; returns the session's new version and remaining time to live, or
    /// <see langword="null"/> when the session is gone (nothing written).
    /// </summary>
    /// <exception cref="RedisSessionLimitExceededException">The data would exceed <c>MaxSessionBytes</c>; nothing written.</exception>
    public async Task<(long Version, long TtlMilliseconds)?> CommitAsync(string tag, bool clear, List<KeyValuePair<string, byte[]>> sets, List<string> removes, CancellationToken cancellationToken)
    {
        var args = new RedisValue[5 + (sets.Count * 2) + removes.Count];
        args[0] = _idleMilliseconds;
        args[1] = clear ? "1" : "0";
        args[2] = _maxSessionBytes;
        args[3] = sets.Count;
        args[4] = _channel;
        var i = 5;
        foreach (var (field, value) in sets)
        {
            args[i++] = field;
            args[i++] = value;
        }

        foreach (var field in removes)
        {
            args[i++] = field;
        }

        var result = await EvaluateAsync(CommitScript, [SessionKey(tag)], args, cancellationToken).ConfigureAwait(false);
        if (result.Resp2Type == ResultType.Array)
        {
            var parts = (RedisResult[])result!;
            var version = (long)parts[0];
            Near.Invalidate(tag, version);
            return (version, (long)parts[1]);
        }

        Near.Invalidate(tag, null);
        return (long)result == TooLarge ? throw SessionTooLarge() : null;
    }

    /// <summary>
    /// Creates a session; returns its absolute expiry (Unix ms), 0 when the key exists, -1 when a carried-over
    /// absolute expiry has passed.
    /// </summary>
    public async Task<long> CreateAsync(string tag, List<KeyValuePair<string, byte[]>> fields, CancellationToken cancellationToken)
    {
        var args = new RedisValue[3 + (fields.Count * 2)];
        args[0] = _idleMilliseconds;
        args[1] = _absoluteMilliseconds;
        args[2] = _maxSessionBytes;
        var i = 3;
        foreach (var (field, value) in fields)
        {
            args[i++] = field;
            args[i++] = value;
        }

        var result = (long)await EvaluateAsync(CreateScript, [SessionKey(tag)], args, cancellationToken).ConfigureAwait(false);
        return result == TooLarge ? throw SessionTooLarge() : result;
    }

    /// <summary>Makes a pending session live (last step of binding); <see langword="false"/> when it is gone.</summary>
    public async Task<bool> ActivateAsync(string tag, CancellationToken cancellationToken)
        => (long)await EvaluateAsync(ActivateScript, [SessionKey(tag)], [_idleMilliseconds], cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>Reads and deletes a session (first half of regenerate); <see langword="null"/> when it was not live.</summary>
    public async Task<RedisSessionRecord?> DetachAsync(string tag, CancellationToken cancellationToken)
    {
        var result = await EvaluateAsync(DetachScript, [SessionKey(tag)], [_channel], cancellationToken).ConfigureAwait(false);
        Near.Invalidate(tag, null);
        return ParseRecord(result);
    }

    /// <summary>Deletes a session; returns whether it existed and the user tag it was bound to ("" when none).</summary>
    public async Task<(bool Deleted, string UserTag)> DestroyAsync(string tag, string? expectedUserTag, CancellationToken cancellationToken)
    {
        var result = await EvaluateAsync(DestroyScript, [SessionKey(tag)], [expectedUserTag ?? string.Empty, _channel], cancellationToken).ConfigureAwait(false);
        var parts = (RedisResult[])result!;
        var deleted = (long)parts[0] == 1;
        if (deleted)
        {
            Near.Invalidate(tag, null);
        }

        return (deleted, (string?)parts[1] ?? string.Empty);
    }

    /// <summary>
    /// Reads a session's metadata without sliding it; <see langword="null"/> when it is gone. A session another
    /// request is binding to a user is returned with <c>Pending</c> set.
    /// </summary>
    public async Task<(RedisSessionInfo Info, bool Pending)?> PeekAsync(string tag, CancellationToken cancellationToken)
    {
        var result = await EvaluateAsync(PeekScript, [SessionKey(tag)], [], cancellationToken).ConfigureAwait(false);
        if (result.Resp2Type == ResultType.Integer)
        {
            return null;
        }

        var parts = (RedisResult[])result!;
        var ttl = (long)parts[2];
        var now = _timeProvider.GetUtcNow();
        var info = new RedisSessionInfo(
            tag,
            DateTimeOffset.FromUnixTimeMilliseconds((long)parts[0]),
            DateTimeOffset.FromUnixTimeMilliseconds((long)parts[1]),
            ttl > 0 ? now.AddMilliseconds(ttl) : now);
        return (info, (long)parts[4] == 1);
    }

    /// <summary>
    /// Adds a session to its user's index, drops the <paramref name="dead"/> members, and enforces
    /// <paramref name="maxSessions"/> (0 = no limit) evicting only members of <paramref name="evictionOrder"/>, in that
    /// order. Returns the evicted tags, whose sessions the caller destroys, and up to <paramref name="pruneSample"/>
    /// members old enough to have idled out, for the caller to check and prune.
    /// </summary>
    public async Task<(string[] Evicted, string[] PruneCandidates)> BindUserAsync(
        string userTag,
        string tag,
        long absoluteExpiry,
        int maxSessions,
        int pruneSample,
        IReadOnlyCollection<string> dead,
        IReadOnlyCollection<string> evictionOrder,
        CancellationToken cancellationToken)
    {
        var args = new RedisValue[7 + dead.Count + evictionOrder.Count];
        args[0] = tag;
        args[1] = absoluteExpiry;
        args[2] = maxSessions;
        args[3] = _idleHorizonMilliseconds;
        args[4] = pruneSample;
        args[5] = Random.Shared.NextDouble();
        args[6] = dead.Count;
        var i = 7;
        foreach (var member in dead.Concat(evictionOrder))
        {
            args[i++] = member;
        }

        var parts = (RedisResult[])(await EvaluateAsync(UserBindScript, [UserKey(userTag)], args, cancellationToken).ConfigureAwait(false))!;
        return (ToStrings(parts[0]), ToStrings(parts[1]));
    }

    /// <summary>
    /// One page of the user's indexed sessions (tag, absolute expiry), oldest first from rank <paramref name="offset"/>;
    /// may include sessions that ended early.
    /// </summary>
    public async Task<List<(string Tag, long AbsoluteExpiry)>> ListUserAsync(string userTag, int offset, int count, CancellationToken cancellationToken)
    {
        var result = await EvaluateAsync(UserListScript, [UserKey(userTag)], [offset, count], cancellationToken).ConfigureAwait(false);
        var parts = (RedisResult[])result!;
        var list = new List<(string, long)>(parts.Length / 2);
        for (var i = 0; i + 1 < parts.Length; i += 2)
        {
            list.Add(((string)parts[i]!, (long)(double)parts[i + 1]));
        }

        return list;
    }

    /// <summary>Removes the tags from the user's index, at most <see cref="BatchSize"/> per call.</summary>
    public async Task RemoveFromUserAsync(string userTag, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        foreach (var chunk in tags.Chunk(BatchSize))
        {
            var args = Array.ConvertAll(chunk, t => (RedisValue)t);
            await EvaluateAsync(UserRemoveScript, [UserKey(userTag)], args, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<RedisResult> EvaluateAsync(RedisScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        if (BeforeScriptCall is { } hook)
        {
            await hook(script.Name).ConfigureAwait(false);
        }

        if (ScriptCallStarted is not { } started)
        {
            return await _runner.EvaluateAsync(script, keys, args, cancellationToken).ConfigureAwait(false);
        }

        started(script.Name, keys.Length + args.Length);
        try
        {
            return await _runner.EvaluateAsync(script, keys, args, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ScriptCallEnded?.Invoke(script.Name);
        }
    }

    private static RedisSessionFetch? ParseFetch(RedisResult result)
    {
        if (result.Resp2Type != ResultType.Array)
        {
            return null;
        }

        var parts = (RedisResult[])result!;
        var fields = (RedisResult[])parts[2]!;
        return new RedisSessionFetch((long)parts[0], (long)parts[1], fields.Length == 0 ? null : ParseFields(fields));
    }

    private static RedisSessionRecord? ParseRecord(RedisResult result)
        => result.Resp2Type == ResultType.Array ? ParseFields((RedisResult[])result!) : null;

    private static RedisSessionRecord ParseFields(RedisResult[] parts)
    {
        var data = new Dictionary<string, byte[]>(parts.Length / 2, StringComparer.Ordinal);
        long created = 0, absolute = 0, version = 0;
        string? user = null;
        for (var i = 0; i + 1 < parts.Length; i += 2)
        {
            var field = (string)parts[i]!;
            var value = parts[i + 1];
            if (field.StartsWith(RedisSessionFields.DataPrefix, StringComparison.Ordinal))
            {
                data[field[RedisSessionFields.DataPrefix.Length..]] = (byte[])value! ?? [];
            }
            else if (field == RedisSessionFields.AbsoluteExpiry)
            {
                absolute = (long)value;
            }
            else if (field == RedisSessionFields.Created)
            {
                created = (long)value;
            }
            else if (field == RedisSessionFields.User)
            {
                user = (string?)value;
            }
            else if (field == RedisSessionFields.Version)
            {
                version = (long)value;
            }
        }

        return new RedisSessionRecord { Data = data, CreatedAt = created, AbsoluteExpiry = absolute, UserTag = string.IsNullOrEmpty(user) ? null : user, Version = version };
    }

    private static string[] ToStrings(RedisResult result)
    {
        var parts = (RedisResult[])result!;
        return [.. parts.Select(p => (string)p!)];
    }

    private RedisSessionLimitExceededException SessionTooLarge() => new(
        $"The session would exceed MaxSessionBytes ({Options.MaxSessionBytes}) with this request's changes (concurrent requests filled it); nothing was stored.");

    private static long ToMilliseconds(TimeSpan value) => Math.Max(1, (long)value.TotalMilliseconds);

    private static RedisScript FromResource(string name) => RedisScript.FromResource(typeof(RedisSessionStore).Assembly, name);
}
