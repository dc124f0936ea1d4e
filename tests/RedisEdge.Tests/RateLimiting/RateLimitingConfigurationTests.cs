using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.RateLimiting;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

[Collection(RedisCollection.Name)]
public sealed class RateLimitingConfigurationTests(RedisServerFixture redis)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public async Task NegativeLimit_FailsAtStartup_NamingThePath()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, -5, Hour);
        var error = await StartFails(settings);
        Assert.Contains("RedisEdge:RateLimiting:Policies:api:PermitLimit must be > 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownAlgorithm_FailsAtStartup_NamingThePath()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        settings["RedisEdge:RateLimiting:Policies:api:Algorithm"] = "LeakyQuantum";
        var error = await StartFails(settings);
        Assert.Contains("RedisEdge:RateLimiting:Policies:api:Algorithm", Flatten(error), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownPolicyOnAnEndpoint_FailsAtStartup_NamingPolicyAndPath()
    {
        var settings = new Dictionary<string, string?>().Policy("api", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        var error = await StartFails(settings, app => app.MapGet("/x", () => "ok").RequireRateLimit("apii"));
        Assert.Contains("'apii'", error.Message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherBadValues_AreAllReportedWithTheirPaths()
    {
        var settings = new Dictionary<string, string?>()
            .Policy("h", RedisRateLimitAlgorithm.TokenBucket, 5, TimeSpan.Zero, ("Partition", "Header"), ("TokensPerPeriod", "-1"))
            .Policy("bad name!", RedisRateLimitAlgorithm.FixedWindow, 5, Hour);
        settings["RedisEdge:RateLimiting:GlobalPolicy"] = "missing";
        var message = (await StartFails(settings)).Message;
        Assert.Contains("RedisEdge:RateLimiting:Policies:h:Window", message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:h:TokensPerPeriod", message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:h:PartitionName", message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:Policies:bad name!", message, StringComparison.Ordinal);
        Assert.Contains("RedisEdge:RateLimiting:GlobalPolicy", message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseRedisRateLimiting_WithoutAddRateLimiting_Throws()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddRedisEdge();
        using var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.UseRedisRateLimiting());
        Assert.Contains("AddRateLimiting", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddRateLimiting_FromASection_BindsThatSection()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Limits:GlobalPolicy"] = "g",
            ["Limits:Policies:g:PermitLimit"] = "7",
            ["Limits:Policies:g:Algorithm"] = "Gcra",
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddRedisEdge().AddRateLimiting(configuration.GetSection("Limits"));
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<RedisRateLimitingOptions>>().Value;
        Assert.Equal(RedisRateLimitAlgorithm.Gcra, options.Policies["G"].Algorithm);
        Assert.Equal(7, options.Policies["g"].PermitLimit);
        Assert.Equal(RedisFailureMode.FailOpen, options.Failure.Mode);
    }

    [Fact]
    public void Attributes_DoNotThrow_TheirArgumentsAreCheckedAtStartupWhereTheEndpointIsKnown()
    {
        // A throwing attribute fails MVC's discovery with an exception that names no endpoint.
        Assert.Equal(0, new RateLimitAttribute(" ") { Cost = 0 }.Cost);
        var usage = (AttributeUsageAttribute)Attribute.GetCustomAttribute(typeof(RateLimitAttribute), typeof(AttributeUsageAttribute))!;
        Assert.True(usage.AllowMultiple);
        Assert.Equal(AttributeTargets.Class | AttributeTargets.Method, usage.ValidOn);
    }

    [Fact]
    public void RequireRateLimit_AddsOneAttributeInstanceToEveryEndpointOfAGroup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddRedisEdge().AddRateLimiting();
        using var app = builder.Build();
        var group = app.MapGroup("/g").RequireRateLimit("api", cost: 3);
        group.MapGet("/a", () => "a");
        group.MapGet("/b", () => "b");
        var endpoints = ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).ToList();
        var attributes = endpoints.Select(e => e.Metadata.GetMetadata<RateLimitAttribute>()!).ToList();
        Assert.Equal(2, attributes.Count);
        Assert.Same(attributes[0], attributes[1]);
        Assert.Equal(3, attributes[0].Cost);
    }

    private async Task<Exception> StartFails(Dictionary<string, string?> settings, Action<WebApplication>? endpoints = null)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var fleet = await RateLimitTestApp.StartAsync(redis, settings, (app, _) => endpoints?.Invoke(app));
        });
        return error is OptionsValidationException or InvalidOperationException ? error : throw new Xunit.Sdk.XunitException("Unexpected " + error);
    }

    private static string Flatten(Exception error) => error.InnerException is null ? error.Message : error.Message + " | " + Flatten(error.InnerException);
}
