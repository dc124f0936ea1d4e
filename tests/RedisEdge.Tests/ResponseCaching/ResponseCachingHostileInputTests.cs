using System.Net;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Client input reaches Redis keys only hashed: no 5xx, no key outside the namespace, however hostile.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingHostileInputTests(RedisServerFixture redis)
{
    [Fact]
    public async Task HugeAndHostileVaryValues_NeverProduce5xxOrAKeyOutsideTheNamespace()
    {
        var origin = new Origin();
        var settings = new Dictionary<string, string?>()
            .Policy("items", ("VaryByHeaderNames:0", "X-Tenant"), ("VaryByRouteValueNames:0", "id"), ("Tags:0", "item:{id}"), ("Tags:1", "{id}"));
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, settings);
        var client = fleet[0].Client;
        var huge = new string('q', 16 * 1024);
        var hostile = new[]
        {
            "/items/1?" + huge + "=" + huge,
            "/items/1?a=" + Uri.EscapeDataString("}{\r\n*?[]\\\0 " + huge),
            "/items/" + Uri.EscapeDataString("{tag}\n:*") + "?x=1",
            "/items/" + Uri.EscapeDataString(new string('z', 4000)),
        };

        foreach (var path in hostile)
        {
            for (var i = 0; i < 2; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.TryAddWithoutValidation("X-Tenant", i == 0 ? huge : "}{*\t" + huge);
                var response = await client.SendAsync(request);
                Assert.True((int)response.StatusCode < 500, $"{path[..Math.Min(40, path.Length)]}: {(int)response.StatusCode}");
            }
        }

        await fleet[0].Cache().EvictByTagAsync("item:{tag}\n:*");
        await fleet[0].Cache().EvictAsync("items", "/items/1?" + huge + "=" + huge);

        var keys = await redis.KeysAsync(fleet.KeyPrefix);
        Assert.NotEmpty(keys);
        Assert.All(keys, k =>
        {
            Assert.StartsWith(fleet.KeyPrefix + ":rc:{", k, StringComparison.Ordinal);
            Assert.True(k.Length < 128, k);
            Assert.All(k, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is ':' or '{' or '}' or '_' or '-', k));
        });
    }
}
