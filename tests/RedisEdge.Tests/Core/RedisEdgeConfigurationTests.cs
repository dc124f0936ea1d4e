using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed class RedisEdgeConfigurationTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Start_MissingRedisConfiguration_FailsNamingThePath()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new Dictionary<string, string?>()));

        Assert.Contains("RedisEdge:Redis:Configuration is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_InvalidKeyPrefix_FailsNamingThePath()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = "bad {prefix}",
        }));

        Assert.Contains("RedisEdge:Redis:KeyPrefix must be", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CustomSection_MessagesNameThatSection()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(
            new Dictionary<string, string?> { ["Infra:Cache:Redis:Configuration"] = "  " },
            (services, configuration) => services.AddRedisEdge(configuration.GetSection("Infra:Cache"))));

        Assert.Contains("Infra:Cache:Redis:Configuration is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ValidConfiguration_ConnectsFromConfiguration()
    {
        await using var app = await StartAsync(new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = "cfg",
        });

        var connection = app.Services.GetRequiredService<RedisEdgeConnection>();
        Assert.True(connection.Multiplexer.IsConnected);
        Assert.Equal("cfg", app.Services.GetRequiredService<RedisKeyBuilder>().Prefix);
    }

    [Fact]
    public async Task Start_MultiplexerInDependencyInjection_IsUsedAndConfigurationNotRequired()
    {
        await using var shared = await redis.ConnectAsync();
        await using var app = await StartAsync(new Dictionary<string, string?>(), (services, _) =>
        {
            services.AddSingleton<IConnectionMultiplexer>(shared);
            services.AddRedisEdge();
        });

        Assert.Same(shared, app.Services.GetRequiredService<RedisEdgeConnection>().Multiplexer);
    }

    [Fact]
    public void AddRedisEdge_CalledTwice_Throws()
    {
        var services = new ServiceCollection();
        services.AddRedisEdge();

        var error = Assert.Throws<InvalidOperationException>(() => services.AddRedisEdge());
        Assert.Contains("AddRedisEdge was called twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FailurePolicy_InvalidValues_AllReportedWithPath()
    {
        var errors = new List<string>();
        new RedisFailurePolicyOptions
        {
            Mode = (RedisFailureMode)42,
            Timeout = TimeSpan.Zero,
            BreakAfterFailures = 0,
            BreakDuration = TimeSpan.FromSeconds(-1),
        }.Validate("RedisEdge:RateLimiting:Failure", errors);

        Assert.Equal(
        [
            "RedisEdge:RateLimiting:Failure:Mode must be FailOpen or FailClosed.",
            "RedisEdge:RateLimiting:Failure:Timeout must be > 0 and <= 00:01:00 (was 00:00:00).",
            "RedisEdge:RateLimiting:Failure:BreakAfterFailures must be >= 1 (was 0).",
            "RedisEdge:RateLimiting:Failure:BreakDuration must be > 0 (was -00:00:01).",
        ], errors);
    }

    [Fact]
    public void FailurePolicy_LocalFallback_IsRefusedByFeaturesWithoutOne()
    {
        var options = new RedisFailurePolicyOptions { Mode = RedisFailureMode.LocalFallback };
        var errors = new List<string>();
        options.Validate("RedisEdge:Sessions:Failure", errors);
        Assert.Equal(["RedisEdge:Sessions:Failure:Mode must be FailOpen or FailClosed."], errors);

        errors.Clear();
        options.Validate("RedisEdge:RateLimiting:Failure", errors, allowLocalFallback: true);
        Assert.Empty(errors);
    }

    private static async Task<WebApplication> StartAsync(
        Dictionary<string, string?> settings,
        Action<IServiceCollection, IConfiguration>? register = null)
    {
        var builder = TestHost.CreateBuilder(settings);
        if (register is null)
        {
            builder.Services.AddRedisEdge();
        }
        else
        {
            register(builder.Services, builder.Configuration);
        }

        var app = builder.Build();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }
}
