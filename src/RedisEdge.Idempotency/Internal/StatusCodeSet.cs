using System.Globalization;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// The status codes whose responses are stored: parsed once from <c>2xx</c>, <c>201</c> or <c>400-428</c> entries.
/// 5xx entries are accepted: listing them is the opt-in to storing server errors (as Stripe stores a 500).
/// </summary>
internal sealed class StatusCodeSet
{
    private readonly bool[] _stored = new bool[600];

    private StatusCodeSet()
    {
    }

    public static StatusCodeSet Default { get; } = Parse(RedisIdempotencyDefaults.StoredStatusCodes);

    public bool Contains(int status) => status is >= 100 and < 600 && _stored[status];

    public static StatusCodeSet Parse(IEnumerable<string>? entries)
    {
        if (!TryParse(entries, out var set, out var error))
        {
            throw new FormatException(error);
        }

        return set;
    }

    public static bool TryParse(IEnumerable<string>? entries, out StatusCodeSet set, out string? error)
    {
        set = new StatusCodeSet();
        error = null;
        var list = entries?.Select(e => e?.Trim() ?? string.Empty).Where(e => e.Length > 0).ToList();
        if (list is null || list.Count == 0)
        {
            list = [.. RedisIdempotencyDefaults.StoredStatusCodes];
        }

        foreach (var entry in list)
        {
            int from, to;
            if (entry.Length == 3 && entry[0] is >= '1' and <= '5' && entry.EndsWith("xx", StringComparison.OrdinalIgnoreCase))
            {
                from = (entry[0] - '0') * 100;
                to = from + 99;
            }
            else if (entry.Split('-') is [var a, var b] && TryCode(a, out from) && TryCode(b, out to) && from <= to)
            {
            }
            else if (TryCode(entry, out from))
            {
                to = from;
            }
            else
            {
                error = $"'{entry}' is not a status code, range or class (use 201, 400-428 or 2xx).";
                return false;
            }

            for (var code = from; code <= to; code++)
            {
                set._stored[code] = true;
            }
        }

        return true;
    }

    private static bool TryCode(string text, out int code) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out code) && code is >= 100 and <= 599;
}
