using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>The scripts of idempotency: claim (one round trip per decision, through the circuit breaker), and complete,
/// renew, release and the outcome-unknown marker, each fenced by the owner token of the execution holding the claim and
/// sent through <see cref="RedisScriptRunner.SettleAsync"/>: they keep or settle work that was already admitted, so an
/// open breaker (opened by other requests' failures) never refuses them.</summary>
internal sealed class IdempotencyStore
{
    private static readonly RedisScript ClaimScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "claim.lua");
    private static readonly RedisScript CompleteScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "complete.lua");
    private static readonly RedisScript RenewScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "renew.lua");
    private static readonly RedisScript ReleaseScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "release.lua");
    private static readonly RedisScript UnknownScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "unknown.lua");

    private readonly RedisKeyBuilder _keys;

    public IdempotencyStore(
        RedisEdgeConnection connection,
        RedisKeyBuilder keys,
        IdempotencyMetrics metrics,
        IOptions<RedisIdempotencyOptions> options,
        ILogger<IdempotencyStore> logger,
        TimeProvider timeProvider)
    {
        _keys = keys;
        Runner = new RedisScriptRunner(connection, metrics.Telemetry, options.Value.Failure, logger, timeProvider);
    }

    public RedisScriptRunner Runner { get; }

    /// <summary>
    /// The record of one (caller scope, key) pair: <c>{prefix}:idem:{SHA-256}</c>. Both values come from the client, so
    /// only their hash reaches Redis; the key goes first because it never holds a newline, so the split is unambiguous.
    /// </summary>
    public RedisKey Key(string scope, string key) =>
        _keys.Key(RedisIdempotencyDefaults.KeyFeature, RedisKeyBuilder.Hash(key + "\n" + scope));

    public async Task<ClaimResult> ClaimAsync(RedisKey key, string fingerprint, string owner, IdempotencyPolicy policy, CancellationToken cancellationToken)
    {
        var result = await Runner.EvaluateAsync(
            ClaimScript,
            [key],
            [fingerprint, owner, Milliseconds(policy.Lease), policy.InFlightTtlMs],
            cancellationToken).ConfigureAwait(false);
        var reply = (RedisResult[])result!;
        var outcome = (ClaimOutcome)(long)reply[0];
        return outcome switch
        {
            ClaimOutcome.InFlight => new ClaimResult(outcome, (long)reply[1], null),
            ClaimOutcome.Completed => new ClaimResult(outcome, 0, new StoredResponse((int)(long)reply[1], (string?)reply[2] ?? string.Empty, (byte[]?)reply[3] ?? [])),
            ClaimOutcome.New or ClaimOutcome.Takeover => new ClaimResult(outcome, 0, null, (long)reply[1]),
            _ => new ClaimResult(outcome, 0, null),
        };
    }

    public async Task<bool> CompleteAsync(RedisKey key, string owner, IdempotencyPolicy policy, int status, string headers, ReadOnlyMemory<byte> body)
    {
        var result = await Runner.SettleAsync(
            CompleteScript,
            [key],
            [owner, Milliseconds(policy.Retention), status, headers, body]).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>Renewal keeps a running execution's claim; it is not refused by an open breaker either, since losing the
    /// lease of a handler that is running hands its key to a retry.</summary>
    public async Task<bool> RenewAsync(RedisKey key, string owner, IdempotencyPolicy policy)
    {
        var result = await Runner.SettleAsync(
            RenewScript,
            [key],
            [owner, Milliseconds(policy.Lease), policy.InFlightTtlMs]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async Task<bool> ReleaseAsync(RedisKey key, string owner)
    {
        var result = await Runner.SettleAsync(ReleaseScript, [key], [owner]).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>Marks the in-flight record of <paramref name="owner"/> "outcome unknown" for the retention (see unknown.lua).</summary>
    public async Task<bool> MarkOutcomeUnknownAsync(RedisKey key, string owner, IdempotencyPolicy policy)
    {
        var result = await Runner.SettleAsync(UnknownScript, [key], [owner, Milliseconds(policy.Retention)]).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>A random owner token per execution (128 bits), so only that execution can complete, renew or release.</summary>
    public static string NewOwner() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    private static long Milliseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);
}
