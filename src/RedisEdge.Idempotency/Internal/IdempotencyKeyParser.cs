namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Reads an <c>Idempotency-Key</c> field value: the structured-field string form (<c>"8e03978e-..."</c>) of
/// draft-ietf-httpapi-idempotency-key-header, or a bare token as many clients send it; at most 255 printable ASCII
/// characters either way, and never braces.
/// </summary>
internal static class IdempotencyKeyParser
{
    public static bool TryParse(string? field, out string key, out string? error)
    {
        key = string.Empty;
        if (string.IsNullOrEmpty(field))
        {
            error = "The idempotency key is empty.";
            return false;
        }

        if (field.Length > 2 * RedisIdempotencyDefaults.MaxKeyLength + 2)
        {
            error = $"The idempotency key is longer than {RedisIdempotencyDefaults.MaxKeyLength} characters.";
            return false;
        }

        if (field[0] == '"')
        {
            return TryParseString(field, out key, out error);
        }

        foreach (var c in field)
        {
            if (!IsTokenChar(c))
            {
                error = "The idempotency key must be a structured-field string (\"...\") or a token of letters, digits and !#$%&'*+-.^_`|~:/ characters.";
                return false;
            }
        }

        return CheckLength(key = field, out error);
    }

    private static bool TryParseString(string field, out string key, out string? error)
    {
        key = string.Empty;
        var builder = new System.Text.StringBuilder(field.Length);
        for (var i = 1; i < field.Length; i++)
        {
            var c = field[i];
            if (c == '\\')
            {
                if (i + 1 < field.Length && field[i + 1] is '"' or '\\')
                {
                    builder.Append(field[++i]);
                    continue;
                }

                error = "The idempotency key has an invalid escape: only \\\" and \\\\ are allowed in a structured-field string.";
                return false;
            }

            if (c == '"')
            {
                if (i != field.Length - 1)
                {
                    error = "The idempotency key has characters after its closing quote.";
                    return false;
                }

                key = builder.ToString();
                if (key.Length == 0)
                {
                    error = "The idempotency key is empty.";
                    return false;
                }

                return CheckLength(key, out error);
            }

            if (c is < ' ' or > '~')
            {
                error = "The idempotency key may hold only printable ASCII characters.";
                return false;
            }

            if (c is '{' or '}')
            {
                // Harmless once hashed, but never a real key: refusing them keeps Redis hash-tag syntax out of every log and key.
                error = "The idempotency key may not contain braces.";
                return false;
            }

            builder.Append(c);
        }

        error = "The idempotency key has no closing quote.";
        return false;
    }

    private static bool CheckLength(string key, out string? error)
    {
        if (key.Length > RedisIdempotencyDefaults.MaxKeyLength)
        {
            error = $"The idempotency key is longer than {RedisIdempotencyDefaults.MaxKeyLength} characters.";
            return false;
        }

        error = null;
        return true;
    }

    // RFC 9110 tchar, plus ':' and '/' as sf-token allows.
    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~' or ':' or '/';
}
