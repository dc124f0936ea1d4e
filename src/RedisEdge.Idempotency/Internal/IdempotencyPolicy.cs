using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// The settings one endpoint runs with: feature options, then its named policy, then its attribute. The one place these
/// layers are merged: requests run with the result, and the options and endpoint validators check it.
/// </summary>
internal sealed class IdempotencyPolicy
{
    public const string DefaultName = "default";

    public required string Name { get; init; }

    public required string HeaderName { get; init; }

    public required bool KeyRequired { get; init; }

    public required TimeSpan Retention { get; init; }

    public required TimeSpan Lease { get; init; }

    public required StatusCodeSet Stored { get; init; }

    /// <summary>Why the status codes set at this layer do not parse (the validator reports it); <see langword="null"/> when they do.</summary>
    public string? StoredError { get; init; }

    public required long MaximumBodySize { get; init; }

    public required long MaxRequestBodySize { get; init; }

    public required RedisIdempotencyInFlightBehavior InFlight { get; init; }

    public required TimeSpan WaitTimeout { get; init; }

    public required RedisIdempotencyScope Scope { get; init; }

    public string? ScopeHeaderName { get; init; }

    public Func<HttpContext, string?>? ScopeResolver { get; init; }

    public required RedisIdempotencyAnonymousFallback AnonymousFallback { get; init; }

    /// <summary>Time-to-live of an in-flight record: twice the lease, so an expired claim is still seen as a takeover.</summary>
    public long InFlightTtlMs => (long)(Lease.TotalMilliseconds * 2) + 1000;

    public static IdempotencyPolicy FromOptions(RedisIdempotencyOptions o) => new()
    {
        Name = DefaultName,
        HeaderName = o.HeaderName,
        KeyRequired = o.KeyRequired,
        Retention = o.Retention,
        Lease = o.Lease,
        Stored = ParseStored(o.StoredStatusCodes, fallback: null).Set,
        StoredError = ParseStored(o.StoredStatusCodes, fallback: null).Error,
        MaximumBodySize = o.MaximumBodySize,
        MaxRequestBodySize = o.MaxRequestBodySize,
        InFlight = o.InFlight,
        WaitTimeout = o.WaitTimeout,
        Scope = o.Scope,
        ScopeHeaderName = o.ScopeHeaderName,
        ScopeResolver = o.ScopeResolver,
        AnonymousFallback = o.AnonymousFallback,
    };

    public IdempotencyPolicy With(string name, RedisIdempotencyPolicyOptions p) => new()
    {
        Name = name,
        HeaderName = p.HeaderName ?? HeaderName,
        KeyRequired = p.KeyRequired ?? KeyRequired,
        Retention = p.Retention ?? Retention,
        Lease = p.Lease ?? Lease,
        Stored = p.StoredStatusCodes is { Count: > 0 } codes ? ParseStored(codes, Stored).Set : Stored,
        StoredError = p.StoredStatusCodes is { Count: > 0 } own ? ParseStored(own, Stored).Error : null,
        MaximumBodySize = p.MaximumBodySize ?? MaximumBodySize,
        MaxRequestBodySize = p.MaxRequestBodySize ?? MaxRequestBodySize,
        InFlight = p.InFlight ?? InFlight,
        WaitTimeout = p.WaitTimeout ?? WaitTimeout,
        Scope = p.Scope ?? Scope,
        ScopeHeaderName = p.ScopeHeaderName ?? ScopeHeaderName,
        ScopeResolver = p.ScopeResolver ?? ScopeResolver,
        AnonymousFallback = p.AnonymousFallback ?? AnonymousFallback,
    };

    public IdempotencyPolicy With(IdempotentAttribute a)
    {
        if (a.HeaderName is null && a.KeyRequiredValue is null && a.RetentionValue is null && a.LeaseValue is null &&
            a.StoredStatusCodes is null && a.MaximumBodySizeValue is null && a.InFlightValue is null && a.WaitTimeoutValue is null)
        {
            return this;
        }

        return new()
        {
            Name = Name,
            HeaderName = a.HeaderName ?? HeaderName,
            KeyRequired = a.KeyRequiredValue ?? KeyRequired,
            Retention = a.RetentionValue ?? Retention,
            Lease = a.LeaseValue ?? Lease,
            Stored = a.StoredStatusCodes is { } codes ? ParseStored(codes.Split(','), Stored).Set : Stored,
            StoredError = a.StoredStatusCodes is { } own ? ParseStored(own.Split(','), Stored).Error : null,
            MaximumBodySize = a.MaximumBodySizeValue ?? MaximumBodySize,
            MaxRequestBodySize = MaxRequestBodySize,
            InFlight = a.InFlightValue ?? InFlight,
            WaitTimeout = a.WaitTimeoutValue ?? WaitTimeout,
            Scope = Scope,
            ScopeHeaderName = ScopeHeaderName,
            ScopeResolver = ScopeResolver,
            AnonymousFallback = AnonymousFallback,
        };
    }

    /// <summary>The codes of one layer, or <paramref name="fallback"/> (the defaults when none) with the reason they do not parse.</summary>
    private static (StatusCodeSet Set, string? Error) ParseStored(IEnumerable<string>? codes, StatusCodeSet? fallback) =>
        StatusCodeSet.TryParse(codes, out var set, out var error) ? (set, null) : (fallback ?? StatusCodeSet.Parse(null), error);
}
