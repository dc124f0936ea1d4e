using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Idempotency.Internal;

/// <summary>Validates <see cref="RedisIdempotencyOptions"/> at start-up; every message names its configuration path.</summary>
internal sealed class RedisIdempotencyOptionsValidator(RedisEdgeSectionPath<RedisIdempotencyOptions> section, RedisEdgeSection<RedisIdempotencyOptions> configuration) : IValidateOptions<RedisIdempotencyOptions>
{
    public static readonly TimeSpan MinLease = TimeSpan.FromMilliseconds(100);

    public ValidateOptionsResult Validate(string? name, RedisIdempotencyOptions options)
    {
        var errors = new List<string>();
        var root = section.Path;
        RedisEdgePolicyValidation.CheckBinding<RedisIdempotencyPolicyOptions>(configuration.Section.GetSection("Policies"), errors);
        (options.Failure ?? new RedisFailurePolicyOptions()).Validate($"{root}:Failure", errors);
        var defaults = IdempotencyPolicy.FromOptions(options);
        ValidateValues(root, errors, defaults);
        ValidateHeaderList($"{root}:AllowedReplayHeaders", options.AllowedReplayHeaders, errors, replay: true);
        ValidateHeaderList($"{root}:FingerprintHeaders", options.FingerprintHeaders, errors, replay: false);

        RedisEdgePolicyValidation.CheckPolicies(root, options.Policies, errors, (path, policyName, policy) =>
            ValidateValues(path, errors, defaults.With(policyName, policy)));

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Distinct());
    }

    /// <summary>Checks effective values; <paramref name="path"/> is where they (or the ones they inherit) are set.</summary>
    internal static void ValidateValues(string path, List<string> errors, IdempotencyPolicy policy)
    {
        var (headerName, retention, lease, maxBodySize, maxRequestBodySize) = (policy.HeaderName, policy.Retention, policy.Lease, policy.MaximumBodySize, policy.MaxRequestBodySize);
        var (inFlight, waitTimeout, scope, scopeHeaderName, scopeResolver, fallback) = (policy.InFlight, policy.WaitTimeout, policy.Scope, policy.ScopeHeaderName, policy.ScopeResolver, policy.AnonymousFallback);
        if (!IsToken(headerName))
        {
            errors.Add($"{path}:HeaderName must be a header name (was '{headerName}').");
        }

        if (lease < MinLease || lease > TimeSpan.FromHours(24))
        {
            errors.Add($"{path}:Lease must be between 00:00:00.100 and 1.00:00:00 (was {lease}).");
        }

        if (retention < TimeSpan.FromSeconds(1) || retention > TimeSpan.FromDays(366))
        {
            errors.Add($"{path}:Retention must be between 00:00:01 and 366.00:00:00 (was {retention}).");
        }

        if (policy.StoredError is { } codesError)
        {
            errors.Add($"{path}:StoredStatusCodes: {codesError}");
        }

        if (maxBodySize < 0 || maxBodySize > RedisIdempotencyDefaults.MaximumBodySizeLimit)
        {
            errors.Add($"{path}:MaximumBodySize must be between 0 and {RedisIdempotencyDefaults.MaximumBodySizeLimit} bytes (64 MiB): each stored response is held in memory while it is captured and in Redis for the retention (was {maxBodySize}).");
        }

        if (maxRequestBodySize < 0 || maxRequestBodySize > RedisIdempotencyDefaults.MaxRequestBodySizeLimit)
        {
            errors.Add($"{path}:MaxRequestBodySize must be between 0 and {RedisIdempotencyDefaults.MaxRequestBodySizeLimit} bytes (1 GiB) (was {maxRequestBodySize}).");
        }

        if (!Enum.IsDefined(inFlight))
        {
            errors.Add($"{path}:InFlight must be Conflict or Wait.");
        }

        if (inFlight == RedisIdempotencyInFlightBehavior.Wait && (waitTimeout <= TimeSpan.Zero || waitTimeout > TimeSpan.FromMinutes(10)))
        {
            errors.Add($"{path}:WaitTimeout must be > 0 and <= 00:10:00 when InFlight is Wait (was {waitTimeout}).");
        }

        if (!Enum.IsDefined(scope))
        {
            errors.Add($"{path}:Scope must be User, Header or Custom.");
        }
        else if (scope == RedisIdempotencyScope.Header && !IsToken(scopeHeaderName))
        {
            errors.Add($"{path}:ScopeHeaderName is required when Scope is Header (was '{scopeHeaderName}').");
        }
        else if (scope == RedisIdempotencyScope.Custom && scopeResolver is null)
        {
            errors.Add($"{path}:ScopeResolver must be set in code when Scope is Custom.");
        }

        if (!Enum.IsDefined(fallback))
        {
            errors.Add($"{path}:AnonymousFallback must be Reject, ClientIp or Shared.");
        }
    }

    private static void ValidateHeaderList(string path, IList<string>? headers, List<string> errors, bool replay)
    {
        if (headers is null)
        {
            return;
        }

        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i]?.Trim();
            if (!IsToken(header))
            {
                errors.Add($"{path}:{i} must be a header name (was '{headers[i]}').");
            }
            else if (replay && StoredResponse.Forbidden.Contains(header!))
            {
                errors.Add($"{path}:{i}: '{header}' is never replayed (Set-Cookie would hand one caller's cookie to a retry; hop-by-hop and framing headers belong to one connection).");
            }
        }
    }

    /// <summary>The binder silently drops a policy it cannot convert (an unknown enum value); binding each one alone
    /// surfaces the error with its path.</summary>

    private static bool IsToken(string? value) =>
        !string.IsNullOrEmpty(value) && value.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal));
}
