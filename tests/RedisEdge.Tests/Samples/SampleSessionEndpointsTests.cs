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

    [Fact]
    public async Task Sample_CartEndpoints_64ConcurrentSynchronousReads_AllComplete()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/session/cart/apple?quantity=3", null)).StatusCode);

        // GET /session/cart reads Keys and GetInt32 synchronously, as most existing apps do, without LoadAsync.
        var carts = await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            using var response = await client.GetAsync("/session/cart");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return -(int)response.StatusCode;
            }

            using var cart = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return cart.RootElement.GetProperty("apple").GetInt32();
        }));

        Assert.Equal(64, carts.Count(apples => apples == 3));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("al\u0007ice")]
    [InlineData("alice\nbob")]
    [InlineData(null)]
    [InlineData(257)]
    public async Task Sample_Login_RefusesBadUserNames_With400Problem(object? user)
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();
        var name = user is int length ? new string('a', length) : (string?)user;
        var query = name is null ? string.Empty : "?user=" + Uri.EscapeDataString(name);

        using var response = await client.PostAsync("/session/login" + query, null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"user\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Sample_Login_Accepts256Characters()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();
        using var response = await client.PostAsync("/session/login?user=" + new string('a', 256), null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
