using System.Collections.Concurrent;

namespace RedisEdge.Internal;

/// <summary>
/// A bounded memo of derived key strings (a SHA-256 hash of a client value, or a key that embeds one), looked up by the
/// characters they were derived from without making a string of them.
/// </summary>
/// <remarks>
/// SHA-256 through the platform's crypto library costs about a microsecond per call, the largest single cost a cached
/// response or a session read from memory had per request (CPU traces in docs/benchmarks.md). A hot key is requested
/// over and over, so its derived string is kept: a hit is one dictionary lookup over the characters. The memo is bounded:
/// when more than <c>capacity</c> strings were added since it was last emptied, it is emptied (a flood of distinct
/// values, such as a cache-busting query string, then costs the hashes it would have cost anyway, and no memory).
/// Values longer than <c>maxLength</c> characters are never kept. A memo holds the raw values it was asked about, so it
/// is used only where those values are already held in memory for longer (a near cache's keys).
/// </remarks>
internal sealed class KeyHashMemo
{
    private readonly ConcurrentDictionary<string, string> _derived = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _byChars;
    private readonly int _capacity;
    private readonly int _maxLength;
    private int _added;

    public KeyHashMemo(int capacity, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        _capacity = capacity;
        _maxLength = maxLength;
        _byChars = _derived.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Strings held now (for tests).</summary>
    public int Count => _derived.Count;

    /// <summary>The string derived from <paramref name="source"/> earlier, if it is still held.</summary>
    public bool TryGet(ReadOnlySpan<char> source, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? derived) =>
        _byChars.TryGetValue(source, out derived);

    /// <summary>Keeps <paramref name="derived"/> for <paramref name="source"/>, emptying the memo first when it is full.</summary>
    public void Add(ReadOnlySpan<char> source, string derived)
    {
        if (source.Length > _maxLength)
        {
            return;
        }

        if (Interlocked.Increment(ref _added) > _capacity)
        {
            // Approximate under races (a concurrent add may land just after the clear): the bound is on the order of
            // capacity, not exact, which is all a memory bound needs.
            _derived.Clear();
            Interlocked.Exchange(ref _added, 1);
        }

        _byChars.TryAdd(source, derived);
    }
}
