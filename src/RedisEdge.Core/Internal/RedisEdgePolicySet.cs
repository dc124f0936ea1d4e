using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;

namespace RedisEdge.Internal;

/// <summary>
/// The policies of one options snapshot (a feature derives its own set from it), and what each endpoint's metadata
/// resolves to under them, computed once per endpoint. Replaced as a whole when the options reload.
/// </summary>
/// <typeparam name="TResolved">What an endpoint's metadata resolves to: its effective policy, or the policies it requests.</typeparam>
internal abstract class RedisEdgePolicySet<TResolved>(long generation)
    where TResolved : class
{
    // Endpoint metadata never changes, so what an endpoint resolves to under this set is computed once; a weak table lets
    // endpoints that a dynamic data source replaces be collected with their entries.
    private readonly ConditionalWeakTable<Endpoint, StrongBox<TResolved?>> _resolved = [];

    /// <summary>Which reload produced this set (0 at start-up, then 1, 2, ...).</summary>
    public long Generation { get; } = generation;

    /// <summary>Whether this snapshot defines the policy <paramref name="name"/> (names compare case-insensitively).</summary>
    public abstract bool Defines(string name);

    internal bool TryGetResolved(Endpoint endpoint, out TResolved? resolved)
    {
        if (_resolved.TryGetValue(endpoint, out var box))
        {
            resolved = box.Value;
            return true;
        }

        resolved = null;
        return false;
    }

    /// <summary>Remembers what <paramref name="endpoint"/> resolves to (a race resolves it twice, to the same result).</summary>
    internal void SetResolved(Endpoint endpoint, TResolved? resolved) => _resolved.AddOrUpdate(endpoint, new StrongBox<TResolved?>(resolved));
}
