namespace RedisEdge.Sessions;

/// <summary>
/// Marks an endpoint as requiring a live session: the session is loaded before the endpoint runs, and a request
/// without one gets <see cref="RedisSessionOptions.OnSessionRequired"/> (a 401 problem response by default).
/// </summary>
/// <remarks>Endpoint metadata for MVC and minimal APIs; <c>.RequireSession()</c> adds the same attribute.</remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class RequireSessionAttribute : Attribute;
