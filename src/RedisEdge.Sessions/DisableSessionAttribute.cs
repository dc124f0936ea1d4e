namespace RedisEdge.Sessions;

/// <summary>
/// Marks an endpoint as not using sessions at all: no session is attached (<c>HttpContext.Session</c> throws), nothing is
/// loaded or committed. Wins over <see cref="RequireSessionAttribute"/> and <see cref="ReadOnlySessionAttribute"/>.
/// </summary>
/// <remarks>Endpoint metadata for MVC and minimal APIs; <c>.DisableSession()</c> adds the same attribute.</remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableSessionAttribute : Attribute;
