namespace RedisEdge.Idempotency;

/// <summary>Names and defaults of RedisEdge idempotency.</summary>
public static class RedisIdempotencyDefaults
{
    /// <summary>The configuration section under <c>RedisEdge</c>: <c>Idempotency</c>.</summary>
    public const string SectionName = "Idempotency";

    /// <summary>The key feature token: records live at <c>{prefix}:idem:{{SHA-256(scope, key)}}</c>.</summary>
    internal const string KeyFeature = "idem";

    /// <summary>The request header carrying the key (draft-ietf-httpapi-idempotency-key-header).</summary>
    public const string HeaderName = "Idempotency-Key";

    /// <summary>The response header added to every replayed response, with the value <c>true</c>.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>The longest key accepted: 255 characters.</summary>
    public const int MaxKeyLength = 255;

    /// <summary>The default retention of a stored response: 24 hours.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    /// <summary>The default in-flight lease: 30 seconds, renewed every third of it while the handler runs.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>The default bounded wait of <see cref="RedisIdempotencyInFlightBehavior.Wait"/>: 10 seconds.</summary>
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The default largest response body stored: 1 MiB.</summary>
    public const long MaximumBodySize = 1024 * 1024;

    /// <summary>The default largest request body accepted for fingerprinting: 1 MiB.</summary>
    public const long MaxRequestBodySize = 1024 * 1024;

    /// <summary>The largest <c>MaximumBodySize</c> start-up accepts: 64 MiB. A stored response is held in (pooled) memory
    /// while it is captured and in Redis for the whole retention; larger results belong behind a <c>202</c> and a
    /// <c>Location</c>.</summary>
    public const long MaximumBodySizeLimit = 64L * 1024 * 1024;

    /// <summary>The largest <c>MaxRequestBodySize</c> start-up accepts: 1 GiB. The body is hashed as it streams and
    /// buffered to disk past 30 KB, so this bounds the work per request rather than memory.</summary>
    public const long MaxRequestBodySizeLimit = 1024L * 1024 * 1024;

    /// <summary>
    /// The default stored status codes: every 2xx and 3xx (a Post-Redirect-Get <c>303</c> is the outcome), and the
    /// client errors a retry of the same request would get again: 400, 404, 405, 410, 413, 415 and 422. Never by
    /// default: transient answers (408, 409, 423, 425, 429), whose retry should run again, 401 and 403, which depend
    /// on credentials the retry may fix, and 5xx (list them to store them).
    /// </summary>
    public static IReadOnlyList<string> StoredStatusCodes { get; } = ["2xx", "3xx", "400", "404", "405", "410", "413", "415", "422"];

    /// <summary>The default request headers that are part of the fingerprint: <c>Content-Type</c>.</summary>
    public static IReadOnlyList<string> FingerprintHeaders { get; } = ["Content-Type"];

    /// <summary>
    /// Response headers always replayed when present: <c>Content-Type</c> and <c>Content-Encoding</c> (which describe
    /// the stored bytes), <c>Location</c>, <c>ETag</c>, <c>Link</c>, and the headers a status needs: <c>Retry-After</c>
    /// (429, 503, 3xx), <c>Allow</c> (405) and <c>WWW-Authenticate</c> (401).
    /// </summary>
    public static IReadOnlyList<string> ReplayedHeaders { get; } =
        ["Content-Type", "Content-Encoding", "Location", "ETag", "Link", "Retry-After", "Allow", "WWW-Authenticate"];

    /// <summary>
    /// The problem <c>type</c> of a <c>409</c> answered because the same key is still executing: retry later with the
    /// same key. RedisEdge's own answers carry their own types (RFC 9457), so a client tells them from the
    /// application's own 409 or 422; the URIs are identifiers, compared as strings, not links.
    /// </summary>
    public const string InFlightProblemType = ProblemTypePrefix + "in-flight";

    /// <summary>The problem <c>type</c> of a <c>422</c>: the key was already used for a different request; use a new key.</summary>
    public const string KeyReusedProblemType = ProblemTypePrefix + "key-reused";

    /// <summary>The problem <c>type</c> of a <c>400</c>: the endpoint requires a key and the request has none.</summary>
    public const string KeyMissingProblemType = ProblemTypePrefix + "key-missing";

    /// <summary>The problem <c>type</c> of a <c>400</c>: the key is malformed, or sent more than once.</summary>
    public const string KeyInvalidProblemType = ProblemTypePrefix + "key-invalid";

    /// <summary>The problem <c>type</c> of a <c>400</c>: keys are scoped by caller and the request identifies none.</summary>
    public const string CallerUnidentifiedProblemType = ProblemTypePrefix + "caller-unidentified";

    /// <summary>The problem <c>type</c> of a <c>413</c>: the request body is over <c>MaxRequestBodySize</c>.</summary>
    public const string RequestTooLargeProblemType = ProblemTypePrefix + "request-too-large";

    /// <summary>The problem <c>type</c> of a <c>503</c>: Redis could not decide the claim, and the handler did not run.</summary>
    public const string StoreUnavailableProblemType = ProblemTypePrefix + "store-unavailable";

    /// <summary>The common prefix of idempotency problem types: a <c>tag:</c> URI (RFC 4151), an identifier that is
    /// not meant to be dereferenced.</summary>
    public const string ProblemTypePrefix = "tag:redisedge.dev,2026:idempotency:";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/> name.</summary>
    public const string MeterName = RedisEdgeTelemetryNames.Idempotency;

    /// <summary>Counter of requests with an idempotency key (or refused for lacking one), tagged by policy and result.</summary>
    public const string RequestsInstrument = "redisedge.idempotency.requests";

    /// <summary>Histogram of the time from the middleware receiving a request to its decision (the claim's answer), in seconds.</summary>
    public const string RequestDurationInstrument = "redisedge.idempotency.request.duration";

    /// <summary>The result tag of the requests counter and duration histogram (snake_case values).</summary>
    public const string ResultTag = "redisedge.idempotency.result";

    /// <summary>Counter of handler executions (first requests and lease takeovers).</summary>
    public const string ExecutionsInstrument = "redisedge.idempotency.executions";

    /// <summary>Counter of replayed stored responses.</summary>
    public const string ReplaysInstrument = "redisedge.idempotency.replays";

    /// <summary>Counter of requests refused with 409 because the key was in flight.</summary>
    public const string ConflictsInstrument = "redisedge.idempotency.conflicts";

    /// <summary>Counter of requests refused with 422 because the key was used for another request.</summary>
    public const string MismatchesInstrument = "redisedge.idempotency.mismatches";

    /// <summary>Counter of claims taken over from an execution whose lease expired.</summary>
    public const string LeaseTakeoversInstrument = "redisedge.idempotency.lease_takeovers";

    /// <summary>Counter of executions that lost their claim before they could store their response.</summary>
    public const string LeaseLostInstrument = "redisedge.idempotency.lease_lost";

    /// <summary>Counter of requests refused with 400 (missing or malformed key, unidentified caller) or 413.</summary>
    public const string RejectedInstrument = "redisedge.idempotency.rejected";

    /// <summary>Histogram of stored response body sizes, in bytes.</summary>
    public const string StoredBytesInstrument = "redisedge.idempotency.stored_bytes";

    /// <summary>Counter of executions whose response was not stored (key released), by reason.</summary>
    public const string ReleasesInstrument = "redisedge.idempotency.releases";

    /// <summary>Counter of requests decided without Redis because it could not answer, by failure mode.</summary>
    public const string RedisErrorsInstrument = "redisedge.idempotency.redis_errors";

    /// <summary>The policy tag of the instruments (the policy name, or <c>default</c>).</summary>
    public const string PolicyTag = "redisedge.idempotency.policy";

    /// <summary>Counter of outcome-unknown records: marked (reason <c>marked</c>) and claims answered with them (reason <c>answered</c>).</summary>
    public const string OutcomeUnknownInstrument = "redisedge.idempotency.outcome_unknown";

    /// <summary>
    /// The problem <c>type</c> of the <c>409</c> answered for a key whose handler ran but whose response could not be
    /// stored: the request may or may not have taken effect, and the key never runs again until its retention ends or an
    /// operator deletes its record.
    /// </summary>
    public const string OutcomeUnknownProblemType = ProblemTypePrefix + "outcome-unknown";

    /// <summary>The reason tag of the releases and rejected counters.</summary>
    public const string ReasonTag = "redisedge.idempotency.reason";
}
