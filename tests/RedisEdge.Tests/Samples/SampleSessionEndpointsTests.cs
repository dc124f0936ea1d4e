using System.Net;
using System.Text.Json;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

[Collection(RedisCollection.Name)]
public sealed class SampleSessionEndpointsTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Sample_LoginProfileCartLogout()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/session/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/session/login?user=alice", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/session/cart/apple?quantity=2", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/session/cart/pear", null)).StatusCode);

        using (var cart = JsonDocument.Parse(await client.GetStringAsync("/session/cart")))
        {
            Assert.Equal(2, cart.RootElement.GetProperty("apple").GetInt32());
            Assert.Equal(1, cart.RootElement.GetProperty("pear").GetInt32());
        }

        using (var profile = JsonDocument.Parse(await client.GetStringAsync("/session/profile")))
        {
            Assert.Equal("alice", profile.RootElement.GetProperty("user").GetString());
            Assert.Equal(1, profile.RootElement.GetProperty("sessions").GetArrayLength());
        }

        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync("/session/logout", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/session/profile")).StatusCode);
    }
}
