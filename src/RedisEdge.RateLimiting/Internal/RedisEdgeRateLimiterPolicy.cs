using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;

namespace RedisEdge.RateLimiting.Internal;

/// <summary>
/// A RedisEdge policy as a first-party <see cref="IRateLimiterPolicy{TPartitionKey}"/>, added by
/// <c>AddRateLimiter(o =&gt; o.AddRedisEdgePolicy("api"))</c>: each request is partitioned by the RedisEdge policy's own
/// rule (<see cref="PartitionResolver"/>: client IP, user, header, ...), and each partition is a
/// <see cref="HttpPartitionLimiter"/> that decides through <see cref="RedisRateLimiterFactory"/>, so the request counts
/// in the same Redis key <c>UseRedisRateLimiting()</c> would charge.
/// </summary>
/// <remarks>
/// The RedisEdge services are found on the first request (from its <see cref="HttpContext.RequestServices"/>) and then
/// kept: <c>RateLimiterOptions</c> is configured before the container exists. Start-up still checks the name
/// (<see cref="FirstPartyPolicyCheck"/>), since <see cref="FirstPartyRateLimiting"/> finds every instance through
/// <see cref="Of"/>. <see cref="OnRejected"/> is null, so the first-party <c>RejectionStatusCode</c> and
/// <c>OnRejected</c> answer a refusal, with the lease's <c>RetryAfter</c>.
/// </remarks>
internal sealed class RedisEdgeRateLimiterPolicy(string name) : IRateLimiterPolicy<RedisEdgeRateLimiterPolicy.Partition>
{
    private static readonly ConditionalWeakTable<RateLimiterOptions, Dictionary<string, RedisEdgeRateLimiterPolicy>> Registered = [];

    private Binding? _binding;
    private Partition? _last;

    /// <summary>What a request resolved to. Part of the key, so a reload that moves a value onto a list takes effect.</summary>
    internal enum Verdict
    {
        Limited,
        Allowed,
        Denied,
    }

    public string Name => name;

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

    /// <summary>Records <paramref name="policy"/> as added to <paramref name="options"/> (see <see cref="Of"/>).</summary>
    public static void Add(RateLimiterOptions options, RedisEdgeRateLimiterPolicy policy) =>
        Registered.GetOrCreateValue(options)[policy.Name] = policy;

    /// <summary>The RedisEdge policies <c>AddRedisEdgePolicy</c> added to <paramref name="options"/>, by first-party name.</summary>
    public static IReadOnlyDictionary<string, RedisEdgeRateLimiterPolicy> Of(RateLimiterOptions options) =>
        Registered.TryGetValue(options, out var policies) ? policies : new Dictionary<string, RedisEdgeRateLimiterPolicy>();

    public RateLimitPartition<Partition> GetPartition(HttpContext httpContext)
    {
        var binding = _binding ?? Bind(httpContext.RequestServices);
        if (!binding.Policies.Current.Policies.TryGetValue(name, out var policy))
        {
            // Start-up refuses an undefined name, and a reload may not drop one an endpoint names; only an endpoint added
            // after start-up can get here.
            throw new InvalidOperationException(
                $"AddRedisEdgePolicy(\"{name}\"): no RedisEdge rate-limit policy '{name}' is configured ({binding.Section}:Policies:{name}).");
        }

        var (value, kind, identity) = PartitionResolver.Resolve(policy, httpContext);
        var verdict = value is null ? Verdict.Limited
            : policy.Allow.Count > 0 && policy.Allow.Contains(value) ? Verdict.Allowed
            : policy.Deny.Count > 0 && policy.Deny.Contains(value) && !policy.Shadow ? Verdict.Denied
            : Verdict.Limited;
        // The first-party middleware asks twice per request (AttemptAcquire, then AcquireAsync) and boxes a struct key
        // each time: the partition key is an immutable object, and the last one is reused while requests resolve to it.
        var limiter = new LimiterPartition(value, kind, identity);
        var key = _last;
        if (key is null || key.Verdict != verdict || key.Limiter != limiter)
        {
            _last = key = new Partition(limiter, verdict);
        }

        return verdict == Verdict.Allowed ? RateLimitPartition.GetNoLimiter(key) : new RateLimitPartition<Partition>(key, binding.Create);
    }

    /// <summary>Finds the RedisEdge services, once (a race binds twice to the same singletons, harmlessly).</summary>
    internal Binding Bind(IServiceProvider services)
    {
        // The start-up check (RedisEdgeServicesCheckPolicy) normally fails first, with the same message.
        var factory = services.GetService<RedisRateLimiterFactory>() ??
            throw new InvalidOperationException(RedisEdgeServicesCheckPolicy.NotRegistered($"\"{name}\""));
        var binding = new Binding(
            name,
            factory,
            services.GetRequiredService<RateLimitPolicyProvider>(),
            services.GetRequiredService<RateLimitingMetrics>(),
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<RedisEdgeSectionPath<RedisRateLimitingOptions>>().Path);
        return _binding = binding;
    }

    /// <summary>The partition key: the partition a request resolved to, and what its value's lists said (compared by value).</summary>
    internal sealed record Partition(LimiterPartition Limiter, Verdict Verdict);

    /// <summary>What every partition of the policy shares; its <see cref="Create"/> is allocated once, not per request.</summary>
    internal sealed class Binding
    {
        public Binding(string name, RedisRateLimiterFactory factory, RateLimitPolicyProvider policies, RateLimitingMetrics metrics, TimeProvider time, string section)
        {
            Name = name;
            Factory = factory;
            Policies = policies;
            Metrics = metrics;
            Time = time;
            Section = section;
            Create = key => new HttpPartitionLimiter(this, key);
            Denied = new RedisPolicyLease(acquired: false, retryAfter: null, $"The partition is on the DenyList of the RedisEdge rate-limit policy '{name}'.");
        }

        /// <summary>The refusal of a deny-listed partition: it holds nothing, so every such request shares it.</summary>
        public RedisPolicyLease Denied { get; }

        public string Name { get; }

        public RedisRateLimiterFactory Factory { get; }

        public RateLimitPolicyProvider Policies { get; }

        public RateLimitingMetrics Metrics { get; }

        public TimeProvider Time { get; }

        public string Section { get; }

        public Func<Partition, RateLimiter> Create { get; }
    }
}
