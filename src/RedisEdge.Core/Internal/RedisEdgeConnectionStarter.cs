using Microsoft.Extensions.Hosting;

namespace RedisEdge.Internal;

/// <summary>
/// Connects RedisEdge's multiplexer while the host starts, so no request pays the connect timeout. With
/// <c>abortConnect=false</c> a Redis that is down delays start-up by at most the connect timeout and the app
/// still starts; the multiplexer keeps reconnecting in the background.
/// </summary>
internal sealed class RedisEdgeConnectionStarter(RedisEdgeConnection connection) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => connection.ConnectAsync();

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
