using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Idempotency;
using RedisEdge.Idempotency.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Idempotency;

/// <summary>The four scripts against Redis: claim outcomes, and owner-token fencing of complete, renew and release.</summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyScriptTests(RedisServerFixture redis) : IAsyncLifetime
{
    private static readonly IdempotencyPolicy Policy = IdempotencyPolicy.FromOptions(new RedisIdempotencyOptions { Lease = TimeSpan.FromSeconds(30) });
    private static readonly IdempotencyPolicy ShortLease = IdempotencyPolicy.FromOptions(new RedisIdempotencyOptions { Lease = TimeSpan.FromMilliseconds(200) });

    private RedisFleet _fleet = null!;

    private IdempotencyStore Store => _fleet[0].Services.GetRequiredService<IdempotencyStore>();

    public async Task InitializeAsync() =>
        _fleet = await IdempotencyTestApp.StartAsync(redis, (_, _) => { });

    public async Task DisposeAsync() => await _fleet.DisposeAsync();

    [Fact]
    public async Task Claim_NewThenInFlightThenCompleted_AndMismatchInEitherState()
    {
        var key = Store.Key("user\nalice", Guid.NewGuid().ToString());
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "a", Policy, default)).Outcome);

        var inFlight = await Store.ClaimAsync(key, "fp", "b", Policy, default);
        Assert.Equal(ClaimOutcome.InFlight, inFlight.Outcome);
        Assert.InRange(inFlight.RemainingMs, 1, 30_000);
        Assert.Equal(ClaimOutcome.Mismatch, (await Store.ClaimAsync(key, "other", "b", Policy, default)).Outcome);

        // Only the owner's complete counts.
        Assert.False(await Store.CompleteAsync(key, "b", Policy, 201, "Location:/x\n", "stolen"u8.ToArray()));
        Assert.True(await Store.CompleteAsync(key, "a", Policy, 201, "Location:/x\n", "body"u8.ToArray()));
        Assert.InRange((await redis.Database.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromHours(23), TimeSpan.FromHours(24));

        var completed = await Store.ClaimAsync(key, "fp", "c", Policy, default);
        Assert.Equal(ClaimOutcome.Completed, completed.Outcome);
        Assert.Equal(201, completed.Response!.StatusCode);
        Assert.Equal("Location:/x\n", completed.Response.Headers);
        Assert.Equal("body"u8.ToArray(), completed.Response.Body);
        Assert.Equal(ClaimOutcome.Mismatch, (await Store.ClaimAsync(key, "other", "c", Policy, default)).Outcome);

        // A completed record is neither renewed, released, marked nor completed again. Its owner's repeated complete (a
        // retry after an attempt that timed out on the client but ran) answers stored, and overwrites nothing.
        Assert.False(await Store.RenewAsync(key, "a", Policy));
        Assert.False(await Store.ReleaseAsync(key, "a"));
        Assert.False(await Store.MarkOutcomeUnknownAsync(key, "a", Policy));
        Assert.True(await Store.CompleteAsync(key, "a", Policy, 200, string.Empty, "again"u8.ToArray()));
        Assert.False(await Store.CompleteAsync(key, "b", Policy, 200, string.Empty, "again"u8.ToArray()));
        Assert.Equal("body"u8.ToArray(), (await Store.ClaimAsync(key, "fp", "d", Policy, default)).Response!.Body);
    }

    [Fact]
    public async Task ReleaseAndRenew_AreFencedByTheOwnerToken()
    {
        var key = Store.Key("user\nbob", Guid.NewGuid().ToString());
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "owner", Policy, default)).Outcome);
        Assert.False(await Store.ReleaseAsync(key, "intruder"));
        Assert.False(await Store.RenewAsync(key, "intruder", Policy));
        Assert.True(await Store.RenewAsync(key, "owner", Policy));
        Assert.True(await Store.ReleaseAsync(key, "owner"));
        Assert.False(await redis.Database.KeyExistsAsync(key));
        Assert.False(await Store.ReleaseAsync(key, "owner"));
        Assert.False(await Store.RenewAsync(key, "owner", Policy));
        Assert.False(await Store.CompleteAsync(key, "owner", Policy, 200, string.Empty, Array.Empty<byte>()));
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "next", Policy, default)).Outcome);
    }

    [Fact]
    public async Task ExpiredLease_IsTakenOver_AndTheStaleOwnerCanNeitherCompleteRenewNorRelease()
    {
        var key = Store.Key("user\ncarol", Guid.NewGuid().ToString());
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "stale", ShortLease, default)).Outcome);

        // Poll (bounded) until the 200 ms lease has run out on the Redis clock; the assertion is the outcome.
        var outcome = ClaimOutcome.InFlight;
        for (var attempt = 0; attempt < 100 && outcome == ClaimOutcome.InFlight; attempt++)
        {
            await Task.Delay(50);
            outcome = (await Store.ClaimAsync(key, "fp", "fresh", ShortLease, default)).Outcome;
        }

        Assert.Equal(ClaimOutcome.Takeover, outcome);
        Assert.False(await Store.CompleteAsync(key, "stale", ShortLease, 200, string.Empty, "late"u8.ToArray()));
        Assert.False(await Store.RenewAsync(key, "stale", ShortLease));
        Assert.False(await Store.ReleaseAsync(key, "stale"));
        Assert.Equal("fresh", (string?)await redis.Database.HashGetAsync(key, "own"));
        Assert.True(await Store.CompleteAsync(key, "fresh", ShortLease, 200, string.Empty, "mine"u8.ToArray()));
        Assert.Equal("mine"u8.ToArray(), (await Store.ClaimAsync(key, "fp", "x", ShortLease, default)).Response!.Body);
    }

    [Fact]
    public async Task ExpiredLease_AnotherFingerprint_IsAMismatch_AndTakesNothingOver()
    {
        var key = Store.Key("user\nerin", Guid.NewGuid().ToString());
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "stalled", ShortLease, default)).Outcome);

        // The record outlives its 200 ms lease by only 1.2 s; on a loaded machine the test must not race its expiry.
        await redis.Database.KeyPersistAsync(key);
        var outcome = ClaimOutcome.InFlight;
        for (var attempt = 0; attempt < 100 && outcome != ClaimOutcome.Takeover; attempt++)
        {
            await Task.Delay(50);
            outcome = (await Store.ClaimAsync(key, "other", "intruder", ShortLease, default)).Outcome;
            Assert.Equal(ClaimOutcome.Mismatch, outcome);

            // Read the lease on the Redis clock the way claim.lua does, so the loop ends once it has certainly run out.
            if (await LeaseExpiredAsync(key))
            {
                break;
            }
        }

        Assert.True(await LeaseExpiredAsync(key));
        Assert.Equal(ClaimOutcome.Mismatch, (await Store.ClaimAsync(key, "other", "intruder", ShortLease, default)).Outcome);
        Assert.Equal("stalled", (string?)await redis.Database.HashGetAsync(key, "own"));
        Assert.Equal("fp", (string?)await redis.Database.HashGetAsync(key, "fp"));
        Assert.Equal(ClaimOutcome.Takeover, (await Store.ClaimAsync(key, "fp", "retry", ShortLease, default)).Outcome);
    }

    [Fact]
    public async Task FencingToken_IncreasesWithEveryExecutionOfAKey_ThroughTakeoverAndRelease()
    {
        var key = Store.Key("user\ngrace", Guid.NewGuid().ToString());
        var first = await Store.ClaimAsync(key, "fp", "a", ShortLease, default);
        Assert.Equal(ClaimOutcome.New, first.Outcome);
        Assert.True(first.FencingToken > 0);
        Assert.Equal(0, (await Store.ClaimAsync(key, "fp", "x", ShortLease, default)).FencingToken);

        // A record whose token is ahead of the clock (a clock that stepped back): the takeover still goes above it.
        await redis.Database.HashSetAsync(key, "fen", first.FencingToken + 60_000_000);
        await redis.Database.KeyPersistAsync(key);
        var second = await Store.ClaimAsync(key, "fp", "b", ShortLease, default);
        for (var attempt = 0; attempt < 100 && second.Outcome == ClaimOutcome.InFlight; attempt++)
        {
            await Task.Delay(50);
            second = await Store.ClaimAsync(key, "fp", "b", ShortLease, default);
        }

        Assert.Equal(ClaimOutcome.Takeover, second.Outcome);
        Assert.Equal(first.FencingToken + 60_000_001, second.FencingToken);

        Assert.True(await Store.ReleaseAsync(key, "b"));
        var third = await Store.ClaimAsync(key, "fp", "c", ShortLease, default);
        Assert.Equal(ClaimOutcome.New, third.Outcome);
        Assert.True(third.FencingToken > first.FencingToken);
    }

    private async Task<bool> LeaseExpiredAsync(RedisKey key)
    {
        var expiry = (long)await redis.Database.HashGetAsync(key, "exp");
        var parts = (RedisResult[])(await redis.Database.ExecuteAsync("TIME"))!;
        return expiry <= (long)parts[0] * 1000 + (long)parts[1] / 1000;
    }

    [Fact]
    public async Task OutcomeUnknown_IsMarkedOnlyByTheOwner_AnswersEveryClaim_AndIsNeverRunnableUntilDeleted()
    {
        var key = Store.Key("user\nfrank", Guid.NewGuid().ToString());
        Assert.False(await Store.MarkOutcomeUnknownAsync(key, "owner", ShortLease));
        Assert.False(await redis.Database.KeyExistsAsync(key));

        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "owner", ShortLease, default)).Outcome);
        Assert.False(await Store.MarkOutcomeUnknownAsync(key, "intruder", ShortLease));
        Assert.True(await Store.MarkOutcomeUnknownAsync(key, "owner", ShortLease));
        Assert.True(await Store.MarkOutcomeUnknownAsync(key, "owner", ShortLease));
        Assert.Equal("u", (string?)await redis.Database.HashGetAsync(key, "st"));
        Assert.False(await redis.Database.HashExistsAsync(key, "exp"));
        Assert.InRange((await redis.Database.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromHours(23), TimeSpan.FromHours(24));

        // Well past the 200 ms lease: the same request is answered "outcome unknown", another one is a mismatch, and the
        // owner can neither renew, release nor complete it any more.
        await Task.Delay(300);
        Assert.Equal(ClaimOutcome.OutcomeUnknown, (await Store.ClaimAsync(key, "fp", "retry", ShortLease, default)).Outcome);
        Assert.Equal(ClaimOutcome.Mismatch, (await Store.ClaimAsync(key, "other", "retry", ShortLease, default)).Outcome);
        Assert.False(await Store.RenewAsync(key, "owner", ShortLease));
        Assert.False(await Store.ReleaseAsync(key, "owner"));
        Assert.False(await Store.CompleteAsync(key, "owner", ShortLease, 200, string.Empty, "late"u8.ToArray()));
        Assert.Equal("u", (string?)await redis.Database.HashGetAsync(key, "st"));

        // An operator clears it with a DEL.
        await redis.Database.KeyDeleteAsync(key);
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(key, "fp", "next", ShortLease, default)).Outcome);
    }

    [Fact]
    public async Task InFlightRecord_ExpiresOnItsOwn_AndForeignDataIsReplaced()
    {
        var key = Store.Key("user\ndave", Guid.NewGuid().ToString());
        await Store.ClaimAsync(key, "fp", "owner", Policy, default);
        var ttl = (await redis.Database.KeyTimeToLiveAsync(key))!.Value;
        Assert.InRange(ttl, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(61));

        var foreign = Store.Key("user\ndave", Guid.NewGuid().ToString());
        await redis.Database.StringSetAsync(foreign, "not a hash");
        Assert.Equal(ClaimOutcome.New, (await Store.ClaimAsync(foreign, "fp", "owner", Policy, default)).Outcome);
        Assert.Equal(RedisType.Hash, await redis.Database.KeyTypeAsync(foreign));
        Assert.False(await Store.CompleteAsync(Store.Key("user\ndave", "absent"), "owner", Policy, 200, string.Empty, Array.Empty<byte>()));
    }

    [Fact]
    public void Keys_AreOneHashTagPerScopeAndKey_SoEveryScriptTouchesOneSlot()
    {
        var a = Store.Key("user\nalice", "k");
        var b = Store.Key("user\nbob", "k");
        var c = Store.Key("user\nalice", "k2");
        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(a, Store.Key("user\nalice", "k"));
        Assert.Matches("^t[0-9a-f]{12}:idem:\\{[A-Za-z0-9_-]{43}\\}$", a.ToString());
    }
}
