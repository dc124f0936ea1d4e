using Microsoft.AspNetCore.Http;

namespace RedisEdge.RateLimiting;

/// <summary>
/// One named rate-limit policy, bound from <c>RedisEdge:RateLimiting:Policies:&lt;name&gt;</c> or set in code.
/// </summary>
public sealed class RedisRateLimitPolicyOptions
{
    /// <summary>The algorithm. Default <see cref="RedisRateLimitAlgorithm.FixedWindow"/>.</summary>
    public RedisRateLimitAlgorithm Algorithm { get; set; } = RedisRateLimitAlgorithm.FixedWindow;

    /// <summary>
    /// Permits per window (fixed and sliding windows), bucket capacity (token bucket), requests per
    /// <see cref="Window"/> (GCRA) or requests in flight (concurrency). Must be &gt; 0.
    /// </summary>
    public int PermitLimit { get; set; }

    /// <summary>The window, refill period (token bucket) or period (GCRA). Unused by concurrency. Default 1 minute.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Token bucket: tokens added per <see cref="Window"/>, continuously (fractional refill). 0 = <see cref="PermitLimit"/>.</summary>
    public int TokensPerPeriod { get; set; }

    /// <summary>GCRA: requests that may arrive at once. 0 = <see cref="PermitLimit"/>.</summary>
    public int Burst { get; set; }

    /// <summary>GCRA: the longest a request waits for its slot before it is rejected. Zero (default) = meter, no waiting.</summary>
    public TimeSpan MaxQueueDelay { get; set; }

    /// <summary>Concurrency: how long a lease lives when the instance holding it dies before releasing it. Default 60 s.</summary>
    public TimeSpan LeaseTimeToLive { get; set; } = RedisRateLimitingDefaults.LeaseTimeToLive;

    /// <summary><see cref="RedisRateLimitMode.Enforce"/> (default) or <see cref="RedisRateLimitMode.Shadow"/>.</summary>
    public RedisRateLimitMode Mode { get; set; } = RedisRateLimitMode.Enforce;

    /// <summary>What is counted separately. Default <see cref="RedisRateLimitPartitionKind.Ip"/>.</summary>
    public RedisRateLimitPartitionKind Partition { get; set; } = RedisRateLimitPartitionKind.Ip;

    /// <summary>
    /// <see cref="RedisRateLimitPartitionKind.Ip"/> (and the anonymous fallback of <see cref="RedisRateLimitPartitionKind.User"/>):
    /// how many leading bits of an IPv4 address form one partition. Default 32 (one address); 1-32.
    /// </summary>
    public int IPv4PrefixLength { get; set; } = RedisRateLimitingDefaults.IPv4PrefixLength;

    /// <summary>
    /// <see cref="RedisRateLimitPartitionKind.Ip"/> (and the anonymous fallback of <see cref="RedisRateLimitPartitionKind.User"/>):
    /// how many leading bits of an IPv6 address form one partition. Default 64, the network one host usually gets, so a
    /// client cannot escape its limit by rotating addresses inside it; 1-128.
    /// </summary>
    public int IPv6PrefixLength { get; set; } = RedisRateLimitingDefaults.IPv6PrefixLength;

    /// <summary>The claim type, header name or route value name for <see cref="RedisRateLimitPartitionKind.Claim"/>,
    /// <see cref="RedisRateLimitPartitionKind.Header"/> and <see cref="RedisRateLimitPartitionKind.Route"/>.</summary>
    public string? PartitionName { get; set; }

    /// <summary>
    /// <see cref="RedisRateLimitPartitionKind.Claim"/>, <see cref="RedisRateLimitPartitionKind.Header"/>, named
    /// <see cref="RedisRateLimitPartitionKind.Route"/> and <see cref="RedisRateLimitPartitionKind.Custom"/>: what a request
    /// without a value counts against. Default <see cref="RedisRateLimitPartitionFallback.ClientIp"/>.
    /// </summary>
    public RedisRateLimitPartitionFallback PartitionFallback { get; set; } = RedisRateLimitPartitionFallback.ClientIp;

    /// <summary>Resolves the partition value for <see cref="RedisRateLimitPartitionKind.Custom"/>. <see langword="null"/> means "no value".</summary>
    public Func<HttpContext, string?>? PartitionResolver { get; set; }

    /// <summary>Per-partition limits, matched on the exact partition value (e.g. a higher limit for one API key).</summary>
    public List<RedisRateLimitOverride> Overrides { get; set; } = [];

    /// <summary>Partition values this policy never limits.</summary>
    public List<string> AllowList { get; set; } = [];

    /// <summary>Partition values this policy always refuses (403), without a Redis call.</summary>
    public List<string> DenyList { get; set; } = [];

    /// <summary>What to do while Redis cannot answer: FailOpen, FailClosed or LocalFallback (see
    /// <see cref="RedisRateLimitingOptions.InstanceCount"/>). <see langword="null"/> = the feature's
    /// <see cref="RedisRateLimitingOptions.Failure"/> mode (FailOpen by default).</summary>
    public RedisFailureMode? FailureMode { get; set; }
}
