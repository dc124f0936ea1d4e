using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Core;

/// <summary>
/// A misspelt key or a duration that .NET reads as days fails start-up naming its path, instead of being silently
/// ignored: <c>"Algoritm": "TokenBucket"</c> left a policy a fixed window, <c>"Expire": "30"</c> meant 30 days.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ConfigurationKeysTests(RedisServerFixture redis)
{
    [Theory]
    [InlineData("RedisEdge:RateLimiting:Policies:api:Algoritm", "TokenBucket", "did you mean 'Algorithm'?")]
    [InlineData("RedisEdge:Idempotency:Policies:orders:Leese", "00:00:10", "did you mean 'Lease'?")]
    [InlineData("RedisEdge:ResponseCaching:Policies:page:Expir", "00:01:00", "did you mean 'Expire'?")]
    [InlineData("RedisEdge:Sessions:IdleTimout", "00:20:00", "did you mean 'IdleTimeout'?")]
    [InlineData("RedisEdge:Sessions:Cookie:Nmae", ".session", "did you mean 'Name'?")]
    [InlineData("RedisEdge:Redis:Configration", "localhost", "did you mean 'Configuration'?")]
    public async Task UnknownKey_FailsStartUp_NamingItsPath_AndTheKeyMeant(string key, string value, string hint)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { [key] = value }));

        Assert.Contains($"{key} is not a RedisEdge setting; it would be ignored", error.Message, StringComparison.Ordinal);
        Assert.Contains(hint, error.Message, StringComparison.Ordinal);
    }

    /// <summary>An unknown section is reported once, at its own path, whatever it holds.</summary>
    [Theory]
    [InlineData("RedisEdge:RateLimiting:Policies:api:Failure:Mode", "FailOpen", "RedisEdge:RateLimiting:Policies:api:Failure", "is not a RedisEdge setting")]
    [InlineData("RedisEdge:Telemetry:Enabled", "true", "RedisEdge:Telemetry", "is not a RedisEdge setting")]
    public async Task UnknownSection_FailsStartUp_NamingTheSection(string key, string value, string reported, string hint)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { [key] = value }));

        Assert.Contains($"{reported} is not a RedisEdge setting; it would be ignored", error.Message, StringComparison.Ordinal);
        Assert.Contains(hint, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RedisEdge:ResponseCaching:Policies:page:Expire", "30")]
    [InlineData("RedisEdge:Sessions:IdleTimeout", "20")]
    [InlineData("RedisEdge:RateLimiting:Policies:api:Window", "60")]
    [InlineData("RedisEdge:Idempotency:Failure:Timeout", "1")]
    public async Task BareNumberDuration_FailsStartUp_SayingItMeansDays(string key, string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { [key] = value }));

        Assert.Contains($"{key} is '{value}', which .NET reads as {value} days", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every key the sample's appsettings.json and a full set of valid keys use is known: the check refuses only mistakes.</summary>
    [Fact]
    public async Task KnownKeys_StartCleanly()
    {
        await using var app = await StartAsync(new()
        {
            ["RedisEdge:Sessions:Cookie:Name"] = ".s",
            ["RedisEdge:Sessions:Cookie:SameSite"] = "Lax",
            ["RedisEdge:Sessions:Failure:Mode"] = "FailClosed",
            ["RedisEdge:Idempotency:StoredStatusCodes:0"] = "2xx",
            ["RedisEdge:Idempotency:Policies:orders:Lease"] = "00:00:10",
            ["RedisEdge:ResponseCaching:Policies:page:VaryByHeaderNames:0"] = "Accept-Language",
        });

        Assert.NotNull(app.Services.GetRequiredService<IOptions<RedisEdgeOptions>>().Value);
    }

    private async Task<WebApplication> StartAsync(Dictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = RedisServerFixture.UniquePrefix(),
            ["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "FixedWindow",
            ["RedisEdge:RateLimiting:Policies:api:PermitLimit"] = "10",
            ["RedisEdge:RateLimiting:Policies:api:Window"] = "00:01:00",
            ["RedisEdge:ResponseCaching:Policies:page:Expire"] = "00:01:00",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        var builder = TestHost.CreateBuilder(settings);
        builder.Services.AddRedisEdge().AddSessions().AddRateLimiting().AddIdempotency().AddResponseCaching();
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
