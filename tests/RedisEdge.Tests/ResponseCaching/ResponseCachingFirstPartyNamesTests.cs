using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// Output Caching's <c>Duration</c> (whole seconds) on RedisEdge's cache attribute, and first-party Output Caching
/// metadata refused at start-up when only RedisEdge response caching would see it.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingFirstPartyNamesTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Duration_OnAMinimalApiEndpoint_ReplacesThePolicysExpire()
    {
        var counter = 0;
        await using var fleet = await Start(
            o => o.AddPolicy("items", p => p.Expire = TimeSpan.FromMinutes(10)),
            app =>
            {
                app.MapGet("/short/{id}", (string id) => $"{id}:{Interlocked.Increment(ref counter)}").CacheResponse("items", duration: 20);
                app.MapGet("/long/{id}", (string id) => $"{id}:{Interlocked.Increment(ref counter)}").CacheResponse("items");
            });
        var client = fleet[0].Client;
        var id = Guid.NewGuid().ToString("N");

        await client.GetAsync($"/short/{id}");
        await client.GetAsync($"/long/{id}");
        Assert.InRange(Ttl(await client.GetAsync($"/short/{id}")), 0, 20);
        Assert.InRange(Ttl(await client.GetAsync($"/long/{id}")), 21, 600);
        Assert.Equal(2, counter);
    }

    [Fact]
    public async Task Duration_OnAControllerAction_WinsOverTheControllersPolicy()
    {
        await using var fleet = await Start(
            o =>
            {
                o.AddPolicy("class", p => p.Expire = TimeSpan.FromMinutes(5));
                o.AddPolicy("action", _ => { });
            },
            app => app.MapControllers(),
            services => services.AddControllers().AddApplicationPart(typeof(CachedTestController).Assembly));
        var client = fleet[0].Client;
        var id = Guid.NewGuid().ToString("N");

        await client.GetAsync($"/rc-test/short/{id}");
        await client.GetAsync($"/rc-test/inherited/{id}");
        Assert.InRange(Ttl(await client.GetAsync($"/rc-test/short/{id}")), 0, 30);
        Assert.InRange(Ttl(await client.GetAsync($"/rc-test/inherited/{id}")), 31, 300);
    }

    [Fact]
    public async Task NegativeDuration_FailsStartUp_NamingTheEndpoint()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => Start(
            o => o.AddPolicy("items", _ => { }),
            app => app.MapGet("/x", () => "x").WithDisplayName("negative").CacheResponse("items", duration: -5)));
        Assert.Contains("Endpoint 'negative' [CacheResponse(\"items\")] has Duration -5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutputCacheMetadata_WithoutAddOutputCache_FailsStartUp_NamingEveryEndpoint()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => Start(
            o => o.AddPolicy("items", _ => { }),
            app =>
            {
                app.MapGet("/builder", () => "x").WithDisplayName("by builder").CacheOutput();
                app.MapGet("/named", () => "x").WithDisplayName("by name").CacheOutput("items");
                app.MapGet("/attribute", () => "x").WithDisplayName("by attribute").WithMetadata(new OutputCacheAttribute { Duration = 10 });
            }));
        Assert.Contains("Endpoint 'by builder' carries Output Caching metadata", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Endpoint 'by name' carries Output Caching metadata", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Endpoint 'by attribute' carries Output Caching metadata", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutputCacheMetadata_WithAddOutputCache_IsLeftToOutputCaching()
    {
        await using var fleet = await Start(
            o => o.AddPolicy("items", _ => { }),
            app => app.MapGet("/oc", () => "x").CacheOutput(),
            services => services.AddOutputCache());
        var response = await fleet[0].Client.GetAsync("/oc");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(string.Empty, response.CacheStatus());
    }

    private Task<RedisFleet> Start(Action<RedisEdge.ResponseCaching.RedisResponseCachingOptions> configure, Action<WebApplication> endpoints, Action<IServiceCollection>? services = null) =>
        RedisFleet.StartAsync(
            redis,
            1,
            (builder, _) =>
            {
                builder.Services.AddRedisEdge().AddResponseCaching(configure);
                services?.Invoke(builder.Services);
            },
            (app, _) =>
            {
                app.UseRedisResponseCaching();
                endpoints(app);
            });

    private static int Ttl(HttpResponseMessage response)
    {
        var status = response.CacheStatus();
        Assert.StartsWith("RedisEdge; hit; ttl=", status, StringComparison.Ordinal);
        var ttl = status["RedisEdge; hit; ttl=".Length..].Split(';')[0];
        return int.Parse(ttl, CultureInfo.InvariantCulture);
    }
}
