namespace RedisEdge.Sessions.Internal;

/// <summary>Where the session of one request stands; every transition is a method of <see cref="RedisSession"/>.</summary>
internal enum RedisSessionState
{
    /// <summary>
    /// The request carried a well-formed id that has not been looked up yet: until the eager load ran, or until the
    /// first touch in <see cref="RedisSessionLoadMode.Lazy"/> mode.
    /// </summary>
    Unloaded,

    /// <summary>
    /// Nothing in Redis belongs to this request: it sent no id, an id Redis does not know (never adopted), or the
    /// session was destroyed. A first write creates the session under a fresh id.
    /// </summary>
    New,

    /// <summary>The session exists in Redis: loaded, or created, regenerated or bound by this request.</summary>
    Live,

    /// <summary>The session ended elsewhere (logout, revoke, expiry) after this request loaded it; changes are dropped.</summary>
    Ended,

    /// <summary>Redis could not be read under <c>FailOpen</c>: reads see an empty session, writes throw.</summary>
    Degraded,

    /// <summary>
    /// A Redis call failed (load under <c>FailClosed</c>, a commit, a lifecycle step): every access rethrows that
    /// failure, nothing more is committed, and no new id is sent to the client.
    /// </summary>
    Failed,
}
