using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// The values of one session as this request sees them, and the changes it made since they were loaded. Knows
/// nothing of Redis calls or HTTP; it only turns its changes into the fields a script writes.
/// </summary>
internal sealed class RedisSessionData
{
    /// <summary>What a request that loaded nothing sees; never mutated (see <see cref="OwnValues"/>).</summary>
    private static readonly Dictionary<string, byte[]> NoValues = new(StringComparer.Ordinal);

    // A null value records a removal, so a commit can HDEL a key a concurrent request may have added. Made on the first
    // change: a request that only reads makes none.
    private Dictionary<string, byte[]?>? _changes;
    private Dictionary<string, byte[]> _values = NoValues;

    // Whether _values belongs to someone else (NoValues, or a record the near cache holds and other requests read): it
    // is copied before this request changes it, so a read costs no copy of the whole session, only of the values read.
    private bool _valuesShared = true;
    private bool _cleared;

    public bool HasChanges => _changes is { Count: > 0 } || _cleared;

    /// <summary>
    /// Under the near cache the loaded values are shared with other requests (a copy held for the whole instance), so
    /// every value handed out is a copy: a handler cannot change what another request reads.
    /// </summary>
    public bool CopyOut { get; init; }

    /// <summary>The values as loaded and committed by this request (changes accepted), for the near cache to hold.</summary>
    public Dictionary<string, byte[]> Values => _values;

    public IEnumerable<string> Keys
    {
        get
        {
            var keys = new HashSet<string>(_values.Keys, StringComparer.Ordinal);
            if (_changes is null)
            {
                return keys;
            }

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

    public bool TryGetValue(string key, [NotNullWhen(true)] out byte[]? value)
    {
        if (!TryPeek(key, out value))
        {
            return false;
        }

        if (CopyOut)
        {
            value = (byte[])value.Clone();
        }

        return true;
    }

    /// <summary>As <see cref="TryGetValue"/>, without the copy: for this class's own reads.</summary>
    private bool TryPeek(string key, [NotNullWhen(true)] out byte[]? value)
    {
        if (_changes is not null && _changes.TryGetValue(key, out var changed))
        {
            value = changed;
        }
        else if (!_values.TryGetValue(key, out value))
        {
            return false;
        }

        return value is not null;
    }

    /// <summary>
    /// Records a change, even one equal to the loaded value: a concurrent request may have committed another value
    /// since, and the same key is last-writer-wins.
    /// </summary>
    public void Set(string key, byte[] value) => Changes[key] = (byte[])value.Clone();

    /// <param name="key">The key to remove.</param>
    /// <param name="stored">Whether the session exists in Redis, where a concurrent request may have added the key.</param>
    public void Remove(string key, bool stored)
    {
        // A loaded value kept for this request only (see RedisSession.BecomeRequestLocal) must be hidden as well.
        if (stored || _values.ContainsKey(key))
        {
            Changes[key] = null;
        }
        else
        {
            _changes?.Remove(key);
        }
    }

    public void Clear(bool stored)
    {
        _changes?.Clear();
        _values = NoValues;
        _valuesShared = true;
        _cleared = stored;
    }

    /// <summary>
    /// Replaces the values with what Redis holds; this request's changes stay on top (a Clear hides them all). The
    /// dictionary is not copied and never changed here: it may be the near cache's, shared with other requests.
    /// </summary>
    public void Load(Dictionary<string, byte[]> values)
    {
        _values = _cleared ? NoValues : values;
        _valuesShared = true;
    }

    /// <summary>Forgets the stored values and, unless <paramref name="keepChanges"/>, this request's changes too.</summary>
    public void Reset(bool keepChanges = false)
    {
        _values = NoValues;
        _valuesShared = true;
        if (keepChanges && _changes is not null)
        {
            // Against a session that does not exist, removals mean nothing and a Clear has nothing to clear.
            foreach (var key in _changes.Where(c => c.Value is null).Select(c => c.Key).ToList())
            {
                _changes.Remove(key);
            }

            _cleared = false;
        }
        else
        {
            DiscardChanges();
        }
    }

    /// <summary>After a successful commit: the changes become the values.</summary>
    public void AcceptChanges()
    {
        if (_cleared)
        {
            _values = NoValues;
            _valuesShared = true;
        }

        if (_changes is not { Count: > 0 })
        {
            DiscardChanges();
            return;
        }

        var values = OwnValues();
        foreach (var (key, value) in _changes)
        {
            if (value is null)
            {
                values.Remove(key);
            }
            else
            {
                values[key] = value;
            }
        }

        DiscardChanges();
    }

    public void DiscardChanges()
    {
        _changes?.Clear();
        _cleared = false;
    }

    /// <summary>The changes as <c>commit.lua</c> takes them: data fields to set, data fields to delete, clear-first.</summary>
    public (List<KeyValuePair<string, byte[]>> Sets, List<string> Removes, bool Clear) ChangedFields()
    {
        var sets = new List<KeyValuePair<string, byte[]>>((_changes?.Count ?? 0) + 2);
        var removes = new List<string>();
        foreach (var (key, value) in _changes ?? [])
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

        return (sets, removes, _cleared);
    }

    /// <summary>Every value with the changes applied, as <c>create.lua</c> takes them (a session written from scratch).</summary>
    public List<KeyValuePair<string, byte[]>> AllFields()
    {
        var fields = new List<KeyValuePair<string, byte[]>>(_values.Count + (_changes?.Count ?? 0) + 4);
        foreach (var key in Keys)
        {
            TryPeek(key, out var value);
            fields.Add(new(RedisSessionFields.DataPrefix + key, value!));
        }

        return fields;
    }

    /// <summary>
    /// The bytes the data would take in Redis with <paramref name="key"/> set to a value of <paramref name="valueLength"/>
    /// bytes: each key's field name (<c>d:</c> and the key in UTF-8) plus its value, as <c>commit.lua</c> counts them.
    /// </summary>
    public long SizeWith(string key, int valueLength)
    {
        long size = FieldBytes(key) + valueLength;
        foreach (var existing in Keys)
        {
            if (existing != key && TryPeek(existing, out var value))
            {
                size += FieldBytes(existing) + value.Length;
            }
        }

        return size;
    }

    public static KeyValuePair<string, byte[]> Field(string name, string value) => new(name, Encoding.ASCII.GetBytes(value));

    public static KeyValuePair<string, byte[]> Field(string name, long value) => Field(name, value.ToString(CultureInfo.InvariantCulture));

    private Dictionary<string, byte[]?> Changes => _changes ??= new(StringComparer.Ordinal);

    /// <summary>The values, made this request's own first if they are shared.</summary>
    private Dictionary<string, byte[]> OwnValues()
    {
        if (_valuesShared)
        {
            _values = new Dictionary<string, byte[]>(_values, StringComparer.Ordinal);
            _valuesShared = false;
        }

        return _values;
    }

    private static int FieldBytes(string key) => RedisSessionFields.DataPrefix.Length + Encoding.UTF8.GetByteCount(key);
}
