namespace RedisEdge.Sessions;

/// <summary>
/// Marks an endpoint as only reading the session: it is loaded (and slid) on access but never committed, so a
/// read-only request costs at most one Redis call. Changes made to it are discarded.
/// </summary>
/// <remarks>Endpoint metadata for MVC and minimal APIs; <c>.WithReadOnlySession()</c> adds the same attribute.</remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class ReadOnlySessionAttribute : Attribute;
