using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// A response-caching app on Kestrel (real sockets) with one policy, <c>items</c> (fresh 10 s, then 30 s of
/// stale-while-revalidate), whose origin answers <c>"{id}:{render}"</c>; once <see cref="Hold"/> is called it holds
/// its renders (of one id, or of all) on <see cref="Gate"/>, which disposing the app releases.
/// </summary>
internal sealed class KestrelSwrApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _renders;
    private int _holding;

    private KestrelSwrApp(WebApplication app, string keyPrefix)
    {
        _app = app;
        KeyPrefix = keyPrefix;
    }

    public string KeyPrefix { get; }

    public Uri Address { get; private set; } = null!;

    public int Renders => Volatile.Read(ref _renders);

    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Hold() => Volatile.Write(ref _holding, 1);

    /// <param name="heldId">The id whose renders <see cref="Hold"/> holds; every id when <see langword="null"/>.</param>
    public static async Task<KestrelSwrApp> StartAsync(RedisTestServer redis, string? heldId = null)
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
            p.Expire = TimeSpan.FromSeconds(10);
            p.StaleWhileRevalidate = TimeSpan.FromSeconds(30);
        }));
        var app = builder.Build();
        var swr = new KestrelSwrApp(app, prefix);
        app.UseRedisResponseCaching();
        app.MapGet("/items/{id}", async (string id) =>
        {
            var render = Interlocked.Increment(ref swr._renders);
            if ((heldId is null || id == heldId) && Volatile.Read(ref swr._holding) == 1)
            {
                await swr.Gate.Task;
            }

            return $"{id}:{render}";
        }).CacheResponse("items");
        await app.StartAsync();
        swr.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return swr;
    }

    public async ValueTask DisposeAsync()
    {
        Gate.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
