using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed class RedisEdgeDistributedCacheTests(RedisServerFixture redis)
{
    [Fact]
    public async Task AddDistributedCache_SharesRedisEdgeMultiplexerAndPrefix()
    {
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            instances: 2,
            (builder, _) => builder.Services.AddRedisEdge().AddDistributedCache(),
            (_, _) => { });
        var writer = fleet[0].Services.GetRequiredService<IDistributedCache>();
        var reader = fleet[1].Services.GetRequiredService<IDistributedCache>();

        IReadOnlyList<string> commands;
        using (var scope = fleet[0].Commands.Begin())
        {
            await writer.SetStringAsync("greeting", "hello", new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(1) });
            commands = scope.Commands;
        }

        Assert.Equal("hello", await reader.GetStringAsync("greeting"));
        Assert.NotEmpty(commands);
        Assert.Equal([$"{fleet.KeyPrefix}:dc:greeting"], await redis.KeysAsync(fleet.KeyPrefix + ":"));
    }
}
