using RedisEdge.Testing;
using StackExchange.Redis;

namespace RedisEdge.Samples.Api;

/// <summary>
/// Development only: when no Redis is configured, or the configured one does not answer a quick PING at start-up,
/// the sample starts an embedded Redis-compatible server (RedisEdge.Testing: Garnet in this process, scripts isolated)
/// and points RedisEdge at it, so <c>dotnet run</c> works with only the .NET SDK. Outside Development nothing changes:
/// a missing Redis is the outage the failure policies handle.
/// </summary>
internal static partial class DevelopmentRedis
{
    private const string ConfigurationKey = "RedisEdge:Redis:Configuration";
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(1);

    public static WebApplicationBuilder UseEmbeddedRedisInDevelopment(this WebApplicationBuilder builder)
    {
        if (!builder.Environment.IsDevelopment())
        {
            return builder;
        }

        var configured = builder.Configuration[ConfigurationKey];
        if (!string.IsNullOrWhiteSpace(configured) && Answers(configured))
        {
            return builder;
        }

        // Program.cs runs synchronously up to app.Run(); the start is a bind and one warm-up script.
        var server = RedisEdgeTestServer.StartAsync().GetAwaiter().GetResult();
        builder.Configuration.AddInMemoryCollection([new(ConfigurationKey, server.Configuration)]);
        // Created by a factory, so the container disposes it (stopping the server) when the app stops.
        builder.Services.AddSingleton(_ => server);
        builder.Services.AddHostedService(services => new Notice(
            services.GetRequiredService<RedisEdgeTestServer>(),
            configured,
            services.GetRequiredService<ILogger<RedisEdgeTestServer>>()));
        return builder;
    }

    private static bool Answers(string configuration)
    {
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(configuration);
        }
        catch (ArgumentException)
        {
            return true; // Malformed: RedisEdge's own validation fails the start and names the setting.
        }

        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        options.ConnectTimeout = (int)PingTimeout.TotalMilliseconds;
        options.SyncTimeout = (int)PingTimeout.TotalMilliseconds;
        try
        {
            using var connection = ConnectionMultiplexer.Connect(options);
            connection.GetDatabase().Ping();
            return true;
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            return false;
        }
    }

    private sealed partial class Notice(RedisEdgeTestServer server, string? configured, ILogger logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            EmbeddedServerStarted(logger, string.IsNullOrWhiteSpace(configured) ? "no Redis is configured" : $"no Redis answered at '{configured}'", server.Configuration);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = 9000, EventName = "EmbeddedRedisStarted", Level = LogLevel.Warning,
            Message = "Development: {Reason}, so the sample started an embedded Redis-compatible server (Garnet, in this process) on {Configuration}. " +
                      "For development only: its data is lost when the app stops, and production needs a real Redis (RedisEdge:Redis:Configuration).")]
        private static partial void EmbeddedServerStarted(ILogger logger, string reason, string configuration);
    }
}
