namespace RedisEdge.Idempotency;

/// <summary>
/// Makes a controller, an action or (through <c>WithIdempotency</c>) a minimal-API endpoint execute once per
/// idempotency key across the fleet; retries get the stored response. The most specific declaration wins (action over
/// controller); properties left unset take the named <see cref="Policy"/>'s values, then the feature-wide options.
/// </summary>
/// <remarks>
/// Durations are whole seconds, as Output Caching's <c>[OutputCache(Duration = 60)]</c>, since attributes cannot hold a
/// <see cref="TimeSpan"/>. Nothing is checked when the attribute is created (MVC would report a throw without naming
/// the endpoint): an invalid value (zero or negative duration, an undefined policy, a malformed status list) fails
/// the host's start, naming the endpoint.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class IdempotentAttribute : Attribute
{
    private int? _retention;
    private int? _lease;
    private int? _waitTimeout;

    /// <summary>A named policy (<c>RedisEdge:Idempotency:Policies:&lt;name&gt;</c>); <see langword="null"/> = the feature-wide options.</summary>
    public string? Policy { get; set; }

    /// <summary>The request header carrying the key.</summary>
    public string? HeaderName { get; set; }

    /// <summary>Whether a request without the key is refused with <c>400</c>.</summary>
    public bool KeyRequired
    {
        get => KeyRequiredValue ?? true;
        set => KeyRequiredValue = value;
    }

    /// <summary>How long the stored response is replayed, in seconds (<c>86400</c> = one day); 0 when unset.</summary>
    public int Retention
    {
        get => _retention ?? 0;
        set => _retention = value;
    }

    /// <summary>The in-flight lease, in seconds; 0 when unset.</summary>
    public int Lease
    {
        get => _lease ?? 0;
        set => _lease = value;
    }

    /// <summary>The bounded wait under <see cref="RedisIdempotencyInFlightBehavior.Wait"/>, in seconds; 0 when unset.</summary>
    public int WaitTimeout
    {
        get => _waitTimeout ?? 0;
        set => _waitTimeout = value;
    }

    /// <summary>What a request does while the same key is in flight.</summary>
    public RedisIdempotencyInFlightBehavior InFlight
    {
        get => InFlightValue ?? RedisIdempotencyInFlightBehavior.Conflict;
        set => InFlightValue = value;
    }

    /// <summary>Stored status codes, comma-separated: <c>"2xx,404"</c>, <c>"200-299"</c>.</summary>
    public string? StoredStatusCodes { get; set; }

    /// <summary>The largest response body stored, in bytes.</summary>
    public long MaximumBodySize
    {
        get => MaximumBodySizeValue ?? RedisIdempotencyDefaults.MaximumBodySize;
        set => MaximumBodySizeValue = value;
    }

    internal bool? KeyRequiredValue { get; private set; }

    internal TimeSpan? RetentionValue => Seconds(_retention);

    internal TimeSpan? LeaseValue => Seconds(_lease);

    internal TimeSpan? WaitTimeoutValue => Seconds(_waitTimeout);

    internal RedisIdempotencyInFlightBehavior? InFlightValue { get; private set; }

    internal long? MaximumBodySizeValue { get; private set; }

    private static TimeSpan? Seconds(int? value) => value is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
}
