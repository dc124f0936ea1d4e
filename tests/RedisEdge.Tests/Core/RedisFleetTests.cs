using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed class RedisFleetTests(RedisServerFixture redis)
{
    private static readonly RedisScript Counter = CoreTestServices.CounterScript;

    [Fact]
    public async Task Fleet_InstancesAreIndependentButShareRedis()
    {
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            instances: 3,
            (builder, _) => builder.Services.AddRedisEdge(),
            (app, _) => app.MapPost("/count", async (RedisEdgeConnection connection, RedisKeyBuilder keys, HttpContext context) =>
            {
                var result = await connection.Database.ScriptEvaluateAsync(Counter.Text, [keys.Key("test", "fleet", "hits")], [60_000]);
                return Results.Text(((long)((RedisResult[])result!)[0]).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }));

        Assert.Equal(3, fleet.Instances.Select(i => i.Multiplexer).Distinct().Count());
        Assert.Equal(3, fleet.Instances.Select(i => i.Services).Distinct().Count());

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => fleet[i % 3].Client.PostAsync("/count", null)));

        var values = new List<long>();
        foreach (var response in responses)
        {
            values.Add(long.Parse(await response.Content.ReadAsStringAsync(), System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), values.Order());
    }

    [Fact]
    public async Task CommandCounter_CountsOnlyTheInstanceThatSentTheCommand()
    {
        await using var fleet = await RedisFleet.StartAsync(
            redis,
            instances: 2,
            (builder, _) => builder.Services.AddRedisEdge(),
            (app, _) => app.MapGet("/get", async (RedisEdgeConnection connection) =>
            {
                await connection.Database.StringGetAsync("anything");
                return Results.Ok();
            }));

        using var first = fleet[0].Commands.Begin();
        using var second = fleet[1].Commands.Begin();
        await fleet[0].Client.GetAsync("/get");

        Assert.Equal(["GET"], first.Commands);
        Assert.Empty(second.Commands);
    }
}
