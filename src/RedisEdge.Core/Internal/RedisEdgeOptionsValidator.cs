using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace RedisEdge.Internal;

/// <summary>Validates <see cref="RedisEdgeOptions"/> at start-up; messages name the configuration path.</summary>
internal sealed class RedisEdgeOptionsValidator(IServiceProvider services, RedisEdgeSectionPath<RedisEdgeOptions> section) : IValidateOptions<RedisEdgeOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisEdgeOptions options)
    {
        var errors = new List<string>();
        var path = $"{section.Path}:Redis";
        var redis = options.Redis;
        if (redis is null)
        {
            return ValidateOptionsResult.Fail($"{path} must not be null.");
        }

        if (!RedisKeyBuilder.IsValidPrefix(redis.KeyPrefix))
        {
            errors.Add($"{path}:KeyPrefix must be 1-32 characters of letters, digits, '_', '.' or '-' (was '{redis.KeyPrefix}').");
        }

        if (string.IsNullOrWhiteSpace(redis.Configuration))
        {
            if (services.GetService<IConnectionMultiplexer>() is null)
            {
                errors.Add($"{path}:Configuration is required (for example \"localhost:6379\") unless an IConnectionMultiplexer is registered in DI.");
            }
        }
        else
        {
            try
            {
                _ = ConfigurationOptions.Parse(redis.Configuration);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                errors.Add($"{path}:Configuration is not a valid StackExchange.Redis configuration string: {ex.Message}");
            }
        }

        if (redis.HealthCheckTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{path}:HealthCheckTimeout must be > 0 (was {redis.HealthCheckTimeout}).");
        }

        if (redis.HealthCheckDegradedLatency <= TimeSpan.Zero)
        {
            errors.Add($"{path}:HealthCheckDegradedLatency must be > 0 (was {redis.HealthCheckDegradedLatency}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
