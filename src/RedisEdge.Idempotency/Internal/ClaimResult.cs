namespace RedisEdge.Idempotency.Internal;

/// <summary>What <c>claim.lua</c> answered.</summary>
internal enum ClaimOutcome
{
    InFlight = 0,
    New = 1,
    Takeover = 2,
    Completed = 3,
    Mismatch = 4,
    OutcomeUnknown = 5,
}

/// <summary>The answer of one claim: the outcome, the remaining lease when in flight, the stored response when completed,
/// the fencing token when this request now holds the claim (new or takeover).</summary>
internal readonly record struct ClaimResult(ClaimOutcome Outcome, long RemainingMs, StoredResponse? Response, long FencingToken = 0);
