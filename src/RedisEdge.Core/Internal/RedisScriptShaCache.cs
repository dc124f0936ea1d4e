using System.Collections.Concurrent;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>
/// Per script, whether it ran on the server of each cluster slot (entry 0 on a single node, where the client computes
/// no slot). Kept per runner, so an app's first call of a script on each server sends the text, as StackExchange.Redis
/// alone would; an entry is cleared when the server answers <c>NOSCRIPT</c>, and a slot that moves to a server without
/// the script costs the same once.
/// </summary>
internal sealed class RedisScriptShaCache
{
    private const int ClusterSlots = 16384;

    private readonly ConcurrentDictionary<RedisScript, bool[]> _loaded = new();

    /// <summary>The entry of <paramref name="script"/> on the server of <paramref name="hashSlot"/> (the client's slot of the call's first key).</summary>
    public Slot Entry(RedisScript script, int? hashSlot)
    {
        var slots = _loaded.GetOrAdd(script, static _ => new bool[ClusterSlots + 1]);
        return new Slot(slots, hashSlot is >= 0 and < ClusterSlots ? hashSlot.Value + 1 : 0);
    }

    /// <summary>Whether one script is loaded on the server of one slot.</summary>
    public readonly struct Slot(bool[] slots, int index)
    {
        public bool IsLoaded => slots is not null && Volatile.Read(ref slots[index]);

        /// <summary>The script ran there: later calls send its SHA.</summary>
        public void MarkLoaded() => Volatile.Write(ref slots[index], true);

        /// <summary>The server answered <c>NOSCRIPT</c>: the next send there carries the text.</summary>
        public void MarkNotLoaded() => Volatile.Write(ref slots[index], false);
    }
}
