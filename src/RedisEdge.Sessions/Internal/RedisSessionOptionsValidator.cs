using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;

namespace RedisEdge.Sessions.Internal;

/// <summary>Validates <see cref="RedisSessionOptions"/> at start-up; messages name the configuration path.</summary>
internal sealed class RedisSessionOptionsValidator(RedisEdgeSectionPath<RedisSessionOptions> section) : IValidateOptions<RedisSessionOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisSessionOptions options)
    {
        var path = section.Path;
        var errors = new List<string>();
        if (options.IdleTimeout < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{path}:IdleTimeout must be >= 00:00:01 (was {options.IdleTimeout}).");
        }

        if (options.AbsoluteLifetime < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{path}:AbsoluteLifetime must be >= 00:00:01 (was {options.AbsoluteLifetime}).");
        }

        if (options.MaxSessionsPerUser < 0)
        {
            errors.Add($"{path}:MaxSessionsPerUser must be >= 0 (0 = no limit; was {options.MaxSessionsPerUser}).");
        }

        if (options.MaxValueBytes < 0)
        {
            errors.Add($"{path}:MaxValueBytes must be >= 0 (0 = no limit; was {options.MaxValueBytes}).");
        }

        if (options.MaxSessionBytes < 0)
        {
            errors.Add($"{path}:MaxSessionBytes must be >= 0 (0 = no limit; was {options.MaxSessionBytes}).");
        }

        if (options.MaxValueBytes > 0 && options.MaxSessionBytes > 0 && options.MaxValueBytes > options.MaxSessionBytes)
        {
            errors.Add($"{path}:MaxValueBytes must be <= {path}:MaxSessionBytes (was {options.MaxValueBytes} > {options.MaxSessionBytes}): a larger value could never be stored.");
        }

        if (options.HeaderName is { } header && !IsToken(header))
        {
            errors.Add($"{path}:HeaderName must be an HTTP header name (letters, digits and '-') or empty (was '{header}').");
        }

        if (!Enum.IsDefined(options.LoadMode))
        {
            errors.Add($"{path}:LoadMode must be Eager or Lazy (was {options.LoadMode}).");
        }

        if (options.Cookie is null)
        {
            errors.Add($"{path}:Cookie must not be null.");
        }
        else
        {
            ValidateCookie(options.Cookie, $"{path}:Cookie", errors);
        }

        if (options.NearCache is null)
        {
            errors.Add($"{path}:NearCache must not be null.");
        }
        else if (options.NearCache.Enabled)
        {
            ValidateNearCache(options.NearCache, options.IdleTimeout, $"{path}:NearCache", errors);
        }

        if (options.Failure is null)
        {
            errors.Add($"{path}:Failure must not be null.");
        }
        else
        {
            options.Failure.Validate($"{path}:Failure", errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateNearCache(RedisSessionNearCacheOptions near, TimeSpan idleTimeout, string path, List<string> errors)
    {
        if (near.MaxEntries < 1)
        {
            errors.Add($"{path}:MaxEntries must be >= 1 (was {near.MaxEntries}).");
        }

        if (near.MaxBytes < 1)
        {
            errors.Add($"{path}:MaxBytes must be >= 1 (was {near.MaxBytes}).");
        }

        if (near.MaxStaleness <= TimeSpan.Zero || near.MaxStaleness > TimeSpan.FromMinutes(1) || near.MaxStaleness >= idleTimeout)
        {
            errors.Add($"{path}:MaxStaleness must be > 0, <= 00:01:00 and shorter than IdleTimeout (was {near.MaxStaleness}).");
        }

        if (!(near.SlideFraction > 0 && near.SlideFraction <= 0.5))
        {
            errors.Add($"{path}:SlideFraction must be > 0 and <= 0.5 (was {near.SlideFraction}).");
        }
    }

    private static void ValidateCookie(RedisSessionCookieBuilder cookie, string path, List<string> errors)
    {
        if (string.IsNullOrEmpty(cookie.Name) || !IsCookieName(cookie.Name))
        {
            errors.Add($"{path}:Name must be a non-empty cookie name without spaces, ';', ',' or '=' (was '{cookie.Name}').");
        }

        if (string.IsNullOrEmpty(cookie.Path) || cookie.Path[0] != '/')
        {
            errors.Add($"{path}:Path must start with '/' (was '{cookie.Path}').");
        }

        if (!Enum.IsDefined(cookie.SameSite))
        {
            errors.Add($"{path}:SameSite must be Unspecified, None, Lax or Strict.");
        }

        if (!Enum.IsDefined(cookie.SecurePolicy))
        {
            errors.Add($"{path}:SecurePolicy must be SameAsRequest, Always or None.");
        }
        else if (cookie.SameSite == SameSiteMode.None && cookie.SecurePolicy != CookieSecurePolicy.Always)
        {
            errors.Add($"{path}:SecurePolicy must be Always when {path}:SameSite is None (browsers reject SameSite=None cookies that are not Secure).");
        }

        if (cookie.Expiration is not null || cookie.MaxAge is not null)
        {
            errors.Add($"{path}:Expiration and {path}:MaxAge must not be set: the session cookie lasts as long as the browser session, and IdleTimeout and AbsoluteLifetime end the session.");
        }

        // Browsers drop prefixed cookies that break these rules, so a misconfigured one would silently lose every session.
        var name = cookie.Name ?? string.Empty;
        if (name.StartsWith("__Host-", StringComparison.Ordinal))
        {
            if (cookie.SecurePolicy != CookieSecurePolicy.Always)
            {
                errors.Add($"{path}:SecurePolicy must be Always for a __Host- cookie (was {cookie.SecurePolicy}).");
            }

            if (cookie.Path != "/")
            {
                errors.Add($"{path}:Path must be '/' for a __Host- cookie (was '{cookie.Path}').");
            }

            if (!string.IsNullOrEmpty(cookie.Domain))
            {
                errors.Add($"{path}:Domain must not be set for a __Host- cookie (was '{cookie.Domain}').");
            }
        }
        else if (name.StartsWith("__Secure-", StringComparison.Ordinal) && cookie.SecurePolicy != CookieSecurePolicy.Always)
        {
            errors.Add($"{path}:SecurePolicy must be Always for a __Secure- cookie (was {cookie.SecurePolicy}).");
        }
    }

    private static bool IsToken(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static bool IsCookieName(string value) =>
        value.Length <= 64 && value.All(c => c is > ' ' and < (char)127 && c is not ';' and not ',' and not '=' and not '"' and not '\\');
}
