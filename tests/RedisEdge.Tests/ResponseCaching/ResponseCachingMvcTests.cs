using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>[CacheResponse] on controllers and actions: the action's policy wins, [DisableResponseCaching] always wins.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingMvcTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ControllerAttribute_IsInherited_ActionAttributeWins_DisableWins()
    {
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            1,
            (builder, _) =>
            {
                builder.Services.AddRedisEdge().AddResponseCaching(o =>
                {
                    o.AddPolicy("class", p => p.Expire = TimeSpan.FromMinutes(5));
                    o.AddPolicy("action", p => p.VaryByHeaderNames.Add("X-Variant"));
                });
                builder.Services.AddControllers().AddApplicationPart(typeof(CachedTestController).Assembly);
            },
            (app, _) =>
            {
                app.UseRedisResponseCaching();
                app.MapControllers();
            });
        var client = fleet[0].Client;
        var id = Guid.NewGuid().ToString("N");

        var inherited = await (await client.GetAsync($"/rc-test/inherited/{id}")).BodyAsync();
        Assert.Equal(inherited, await (await client.GetAsync($"/rc-test/inherited/{id}")).BodyAsync());

        // The action's policy varies by X-Variant, the controller's does not: two variants prove the action's won.
        var a = await Send(client, $"/rc-test/action/{id}", "a");
        var b = await Send(client, $"/rc-test/action/{id}", "b");
        Assert.NotEqual(a, b);
        Assert.Equal(a, await Send(client, $"/rc-test/action/{id}", "a"));

        var off1 = await client.GetAsync($"/rc-test/off/{id}");
        var off2 = await client.GetAsync($"/rc-test/off/{id}");
        Assert.NotEqual(await off1.BodyAsync(), await off2.BodyAsync());
        Assert.Equal(string.Empty, off2.CacheStatus());

        static async Task<string> Send(HttpClient client, string path, string variant)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Variant", variant);
            return await (await client.SendAsync(request)).BodyAsync();
        }
    }
}
