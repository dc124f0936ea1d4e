namespace RedisEdge.Sessions;

/// <summary>When a request's session is read from Redis (<c>RedisEdge:Sessions:LoadMode</c>).</summary>
public enum RedisSessionLoadMode
{
    /// <summary>
    /// Default. When a request carries a well-formed session id and its endpoint is not <see cref="DisableSessionAttribute"/>,
    /// the middleware loads (and slides) the session asynchronously before the endpoint runs: one Redis call, the same
    /// one a read costs. The synchronous <c>ISession</c> members (<c>GetString</c>, <c>SetInt32</c>, ...) then never wait
    /// on the network, so no request blocks a thread on Redis. A request that carries a cookie but never touches the
    /// session still pays that one call.
    /// </summary>
    Eager,

    /// <summary>
    /// The session is loaded on first touch: a request that carries a cookie but never touches the session costs no
    /// Redis call. <c>await HttpContext.Session.LoadAsync()</c> loads asynchronously; a synchronous first touch
    /// (<c>GetString</c> without <c>LoadAsync</c>) blocks the request's thread for up to <c>Failure:Timeout</c> while
    /// Redis answers. Under load, many such requests can starve the thread pool; use it only when every endpoint
    /// that reads the session calls <c>LoadAsync</c> first.
    /// </summary>
    Lazy,
}
