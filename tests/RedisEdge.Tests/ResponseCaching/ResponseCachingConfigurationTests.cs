using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.ResponseCaching;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Bad configuration fails start-up with the configuration path; registration mistakes fail clearly.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingConfigurationTests(RedisServerFixture redis)
{
    [Theory]
    [InlineData("Expire", "00:00:00", "RedisEdge:ResponseCaching:Policies:items:Expire must be between")]
    [InlineData("Expire", "ten", "RedisEdge:ResponseCaching:Policies:items:Expire")]
    [InlineData("StaleIfError", "-00:00:01", "RedisEdge:ResponseCaching:Policies:items:StaleIfError must be between")]
    [InlineData("MaximumBodySize", "0", "RedisEdge:ResponseCaching:Policies:items:MaximumBodySize must be between")]
    [InlineData("StatusCodes:0", "500", "RedisEdge:ResponseCaching:Policies:items:StatusCodes:0")]
    [InlineData("Tags:0", "product:{id", "RedisEdge:ResponseCaching:Policies:items:Tags:0 'product:{id' has a '{' without a matching '}'")]
    [InlineData("VaryByClaim:0", "tenant", "RedisEdge:ResponseCaching:Policies:items:VaryByClaim requires VaryByUser")]
    [InlineData("MaxEntries", "0", "RedisEdge:ResponseCaching:Policies:items:MaxEntries must be >= 1")]
    [InlineData("MaxBytes", "1000", "RedisEdge:ResponseCaching:Policies:items:MaxBytes must be at least MaximumBodySize")]
    public async Task BadPolicy_FailsStartUpNamingThePath(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>().Policy("items", (key, value));
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => CacheTestApp.StartAsync(redis, new Origin(), settings));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadFeatureOption_FailsStartUpNamingThePath()
    {
        var settings = new Dictionary<string, string?> { [$"{CacheTestApp.Section}:FillWaitTimeout"] = "-00:00:01" };
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheTestApp.StartAsync(redis, new Origin(), settings));
        Assert.Contains("RedisEdge:ResponseCaching:FillWaitTimeout must be between", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EndpointNamingAnUndefinedPolicy_FailsStartUp()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => RedisFleet.StartAsync(
            redis,
            1,
            (builder, _) => builder.Services.AddRedisEdge().AddResponseCaching(o => o.AddPolicy("items", _ => { })),
            (app, _) =>
            {
                app.UseRedisResponseCaching();
                app.MapGet("/x", () => "x").CacheResponse("itemz");
            }));
        Assert.Contains("uses response-cache policy 'itemz', which is not defined under RedisEdge:ResponseCaching:Policies", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseWithoutAdd_Throws()
    {
        var builder = TestHost.CreateBuilder();
        builder.Services.AddRedisEdge();
        var app = builder.Build();
        var ex = Assert.Throws<InvalidOperationException>(() => app.UseRedisResponseCaching());
        Assert.Contains("AddResponseCaching", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddTwice_Throws()
    {
        var services = new ServiceCollection();
        var edge = services.AddRedisEdge();
        edge.AddResponseCaching();
        Assert.Throws<InvalidOperationException>(() => edge.AddResponseCaching());
    }

    [Fact]
    public void AttributeNames_CollideWithNeitherFirstPartyAttribute()
    {
        Assert.NotEqual("ResponseCacheAttribute", nameof(CacheResponseAttribute));
        Assert.NotEqual("OutputCacheAttribute", nameof(CacheResponseAttribute));
        Assert.NotEqual("DisableOutputCacheAttribute", nameof(DisableResponseCachingAttribute));

        // Nothing throws at creation (MVC would report it naming no endpoint): start-up names the endpoint instead.
        Assert.Equal(" ", new CacheResponseAttribute(" ").PolicyName);
    }

    [Fact]
    public async Task BlankPolicyName_FailsStartUp_NamingTheEndpoint()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => RedisFleet.StartAsync(
            redis,
            1,
            (builder, _) => builder.Services.AddRedisEdge().AddResponseCaching(o => o.AddPolicy("items", _ => { })),
            (app, _) =>
            {
                app.UseRedisResponseCaching();
                app.MapGet("/x", () => "x").WithDisplayName("blank").CacheResponse(" ");
            }));
        Assert.Contains("Endpoint 'blank' uses response-cache policy ' '", ex.Message, StringComparison.Ordinal);
    }
}
