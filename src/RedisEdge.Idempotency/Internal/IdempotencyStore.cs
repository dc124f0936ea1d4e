using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>The four scripts of idempotency: claim (one round trip per decision), and complete, renew and release,
/// each fenced by the owner token of the execution holding the claim.</summary>
internal sealed class IdempotencyStore
{
    private static readonly RedisScript ClaimScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "claim.lua");
    private static readonly RedisScript CompleteScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "complete.lua");
    private static readonly RedisScript RenewScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "renew.lua");
    private static readonly RedisScript ReleaseScript = RedisScript.FromResource(typeof(IdempotencyStore).Assembly, "release.lua");

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
            _ => new ClaimResult(outcome, 0, null),
        };
    }

    public async Task<bool> CompleteAsync(RedisKey key, string owner, IdempotencyPolicy policy, int status, string headers, ReadOnlyMemory<byte> body)
    {
        var result = await Runner.EvaluateAsync(
            CompleteScript,
            [key],
            [owner, Milliseconds(policy.Retention), status, headers, body],
            CancellationToken.None).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async Task<bool> RenewAsync(RedisKey key, string owner, IdempotencyPolicy policy)
    {
        var result = await Runner.EvaluateAsync(
            RenewScript,
            [key],
            [owner, Milliseconds(policy.Lease), policy.InFlightTtlMs],
            CancellationToken.None).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async Task<bool> ReleaseAsync(RedisKey key, string owner)
    {
        var result = await Runner.EvaluateAsync(ReleaseScript, [key], [owner], CancellationToken.None).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <summary>A random owner token per execution (128 bits), so only that execution can complete, renew or release.</summary>
    public static string NewOwner() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    private static long Milliseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);
}
