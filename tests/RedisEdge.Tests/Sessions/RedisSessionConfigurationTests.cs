using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

[Collection(RedisCollection.Name)]
public sealed class RedisSessionConfigurationTests(RedisServerFixture redis)
{
    [Fact]
    public async Task UseRedisSessions_WithoutAddSessions_Throws()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["RedisEdge:Redis:Configuration"] = redis.Configuration });
        builder.Services.AddRedisEdge();
        await using var app = builder.Build();

        var ex = Assert.Throws<InvalidOperationException>(() => app.UseRedisSessions());
        Assert.Contains("AddSessions", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidOptions_FailAtStartUp_NamingTheConfigurationPath()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:IdleTimeout"] = "00:00:00",
            ["RedisEdge:Sessions:MaxSessionsPerUser"] = "-1",
            ["RedisEdge:Sessions:Cookie:Name"] = "bad name",
            ["RedisEdge:Sessions:Cookie:SameSite"] = "None",
            ["RedisEdge:Sessions:Failure:Timeout"] = "00:00:00",
        }));

        Assert.Contains("RedisEdge:Sessions:IdleTimeout", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:MaxSessionsPerUser", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:Cookie:Name", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:Cookie:SecurePolicy", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:Failure:Timeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidNearCacheOptions_FailAtStartUp_NamingTheConfigurationPath()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:NearCache:Enabled"] = "true",
            ["RedisEdge:Sessions:NearCache:MaxEntries"] = "0",
            ["RedisEdge:Sessions:NearCache:MaxBytes"] = "0",
            ["RedisEdge:Sessions:NearCache:MaxStaleness"] = "00:00:00",
            ["RedisEdge:Sessions:NearCache:SlideFraction"] = "0.9",
        }));

        Assert.Contains("RedisEdge:Sessions:NearCache:MaxEntries", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:NearCache:MaxBytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:NearCache:MaxStaleness", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:Sessions:NearCache:SlideFraction", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_BindFromConfiguration_AndCodeOverloads()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, 1, new Dictionary<string, string?>
        {
            ["RedisEdge:Sessions:IdleTimeout"] = "00:05:00",
            ["RedisEdge:Sessions:Cookie:Name"] = "sid",
            ["RedisEdge:Sessions:HeaderName"] = "X-Session-Id",
        });
        var options = fleet[0].Services.GetRequiredService<IOptions<RedisSessionOptions>>().Value;
        Assert.Equal(TimeSpan.FromMinutes(5), options.IdleTimeout);
        Assert.Equal("sid", options.Cookie.Name);
        Assert.Equal("X-Session-Id", options.HeaderName);
        Assert.Equal(RedisFailureMode.FailClosed, options.Failure.Mode);

        var browser = new SessionBrowser { CookieName = "sid" };
        await browser.PostAsync(fleet[0], "/set/k/v");
        Assert.Equal("v", await browser.GetAsync(fleet[0], "/get/k"));

        var services = new ServiceCollection();
        services.AddRedisEdge(o => o.Redis.Configuration = redis.Configuration).AddSessions(o => o.MaxSessionsPerUser = 3);
        await using var provider = services.BuildServiceProvider();
        Assert.Equal(3, provider.GetRequiredService<IOptions<RedisSessionOptions>>().Value.MaxSessionsPerUser);

        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["My:Sessions:AbsoluteLifetime"] = "02:00:00" }).Build().GetSection("My:Sessions");
        var fromSection = new ServiceCollection();
        fromSection.AddRedisEdge(o => o.Redis.Configuration = redis.Configuration).AddSessions(section);
        await using var sectionProvider = fromSection.BuildServiceProvider();
        Assert.Equal(TimeSpan.FromHours(2), sectionProvider.GetRequiredService<IOptions<RedisSessionOptions>>().Value.AbsoluteLifetime);
    }

    [Fact]
    public async Task ExplicitSection_ErrorsNameItsPath_AndChangesReload()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["My:Sessions:IdleTimeout"] = "00:00:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddRedisEdge(o => o.Redis.Configuration = redis.Configuration).AddSessions(configuration.GetSection("My:Sessions"));
        await using var provider = services.BuildServiceProvider();
        var monitor = provider.GetRequiredService<IOptionsMonitor<RedisSessionOptions>>();

        var error = Assert.Throws<OptionsValidationException>(() => monitor.CurrentValue);
        Assert.Contains("My:Sessions:IdleTimeout", error.Message, StringComparison.Ordinal);

        // A valid value is cached; only a change token from the explicit section can replace it.
        configuration["My:Sessions:IdleTimeout"] = "00:05:00";
        configuration.Reload();
        Assert.Equal(TimeSpan.FromMinutes(5), monitor.CurrentValue.IdleTimeout);
        configuration["My:Sessions:IdleTimeout"] = "00:07:00";
        configuration.Reload();
        Assert.Equal(TimeSpan.FromMinutes(7), monitor.CurrentValue.IdleTimeout);
    }
}
