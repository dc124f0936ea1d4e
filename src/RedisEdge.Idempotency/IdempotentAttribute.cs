using System.Globalization;

namespace RedisEdge.Idempotency;

/// <summary>
/// Makes a controller, an action or (through <c>WithIdempotency</c>) a minimal-API endpoint execute once per
/// idempotency key across the fleet; retries get the stored response. The most specific declaration wins (action over
/// controller); properties left unset take the named <see cref="Policy"/>'s values, then the feature-wide options.
/// </summary>
/// <remarks>Time spans are given as strings in the <c>c</c> format (<c>"00:00:30"</c>), since attributes cannot hold
/// a <see cref="TimeSpan"/>; a malformed value throws when the attribute is created.</remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class IdempotentAttribute : Attribute
{
    private string? _policy;
    private string? _headerName;
    private string? _retention;
    private string? _lease;
    private string? _waitTimeout;
    private string? _storedStatusCodes;

    /// <summary>A named policy (<c>RedisEdge:Idempotency:Policies:&lt;name&gt;</c>); <see langword="null"/> = the feature-wide options.</summary>
    public string? Policy
    {
        get => _policy;
        set
        {
            if (value is not null)
            {
                ArgumentException.ThrowIfNullOrWhiteSpace(value);
            }

            _policy = value;
        }
    }

    /// <summary>The request header carrying the key.</summary>
    public string? HeaderName
    {
        get => _headerName;
        set
        {
            if (value is not null)
            {
                ArgumentException.ThrowIfNullOrWhiteSpace(value);
            }

            _headerName = value;
        }
    }

    /// <summary>Whether a request without the key is refused with <c>400</c>.</summary>
    public bool KeyRequired
    {
        get => KeyRequiredValue ?? true;
        set => KeyRequiredValue = value;
    }

    /// <summary>How long the stored response is replayed, e.g. <c>"1.00:00:00"</c>.</summary>
    public string? Retention
    {
        get => _retention;
        set => _retention = Checked(value, out RetentionValue);
    }

    /// <summary>The in-flight lease, e.g. <c>"00:00:30"</c>.</summary>
    public string? Lease
    {
        get => _lease;
        set => _lease = Checked(value, out LeaseValue);
    }

    /// <summary>The bounded wait under <see cref="RedisIdempotencyInFlightBehavior.Wait"/>, e.g. <c>"00:00:05"</c>.</summary>
    public string? WaitTimeout
    {
        get => _waitTimeout;
        set => _waitTimeout = Checked(value, out WaitTimeoutValue);
    }

    /// <summary>What a request does while the same key is in flight.</summary>
    public RedisIdempotencyInFlightBehavior InFlight
    {
        get => InFlightValue ?? RedisIdempotencyInFlightBehavior.Conflict;
        set
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "InFlight must be Conflict or Wait.");
            }

            InFlightValue = value;
        }
    }

    /// <summary>Stored status codes, comma-separated: <c>"2xx,404"</c>, <c>"200-299"</c>.</summary>
    public string? StoredStatusCodes
    {
        get => _storedStatusCodes;
        set => _storedStatusCodes = value is null ? null : Internal.StatusCodeSet.TryParse(value.Split(','), out _, out var error)
            ? value
            : throw new ArgumentException(error, nameof(value));
    }

    /// <summary>The largest response body stored, in bytes.</summary>
    public long MaxBodySize
    {
        get => MaxBodySizeValue ?? RedisIdempotencyDefaults.MaxBodySize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            MaxBodySizeValue = value;
        }
    }

    internal bool? KeyRequiredValue { get; private set; }

    internal TimeSpan? RetentionValue;

    internal TimeSpan? LeaseValue;

    internal TimeSpan? WaitTimeoutValue;

    internal RedisIdempotencyInFlightBehavior? InFlightValue { get; private set; }

    internal long? MaxBodySizeValue { get; private set; }

    private static string? Checked(string? value, out TimeSpan? parsed)
    {
        parsed = null;
        if (value is null)
        {
            return null;
        }

        if (!TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var span) || span <= TimeSpan.Zero)
        {
            throw new ArgumentException($"'{value}' is not a positive time span such as \"00:00:30\".", nameof(value));
        }

        parsed = span;
        return value;
    }
}
