using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>Behaviour that depends on the real server: Kestrel ends a stale-while-revalidate response before the refresh.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingKestrelTests(RedisServerFixture redis)
{
    [Fact]
    public async Task StaleWhileRevalidate_TheClientHasTheWholeResponseWhileTheRefreshIsStillRunning()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
            ["RedisEdge:Redis:KeyPrefix"] = prefix,
        });
        builder.Services.AddRedisEdge().AddResponseCaching(o => o.AddPolicy("items", p =>
        {
            p.TimeToLive = TimeSpan.FromSeconds(10);
            p.StaleWhileRevalidate = TimeSpan.FromSeconds(30);
        }));
        await using var app = builder.Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var renders = 0;
        var refreshing = false;
        app.UseRedisResponseCaching();
        app.MapGet("/items/{id}", async (string id) =>
        {
            var render = Interlocked.Increment(ref renders);
            if (Volatile.Read(ref refreshing))
            {
                await gate.Task;
            }

            return $"{id}:{render}";
        }).CacheResponse("items");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient { BaseAddress = new Uri(address) };

        Assert.Equal("1:1", await client.GetStringAsync("/items/1"));
        var key = (await redis.KeysAsync(prefix + ":rc:")).Single(k => k.Contains("}:e:", StringComparison.Ordinal));
        await redis.AgeAsync(key, TimeSpan.FromSeconds(11));
        Volatile.Write(ref refreshing, true);

        // The default completion option reads the whole body: this returns only if Kestrel ended the response at
        // CompleteAsync, before the held refresh.
        var stale = await client.GetAsync("/items/1").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Equal("1:1", await stale.Content.ReadAsStringAsync());
        Assert.Contains("stale-while-revalidate", string.Join(",", stale.Headers.GetValues("Cache-Status")), StringComparison.Ordinal);

        // The refresh starts after the response is complete, so the client may be ahead of it: wait until it is held.
        await CacheTestApp.EventuallyAsync(() => Volatile.Read(ref renders) == 2, "the refresh is running");
        gate.SetResult();
        string body = string.Empty;
        for (var i = 0; i < 200 && body != "1:2"; i++)
        {
            body = await client.GetStringAsync("/items/1");
            await Task.Delay(10);
        }

        Assert.Equal("1:2", body);
        Assert.Equal(2, Volatile.Read(ref renders));
        await app.StopAsync();
    }
}
