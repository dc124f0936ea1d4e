using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Garnet;

namespace RedisEdge.Testing;

/// <summary>
/// A throwaway Redis-compatible server (Microsoft Garnet) running inside the current process, on a free loopback
/// port, with nothing persisted: for integration tests (<c>WebApplicationFactory</c>) and local development of apps
/// that use RedisEdge, without Docker or an installed Redis. Not for production: use <c>redis-server</c> there.
/// </summary>
/// <remarks>
/// Lua scripting is always on, in Garnet's transaction mode (<c>--lua-transaction-mode</c>): each script locks the
/// keys it declares, so two scripts on one key never interleave. Without that mode Garnet runs scripts unisolated and
/// every RedisEdge decision (a rate-limit count, an idempotency claim, a cache fill lease) could be lost or doubled.
/// </remarks>
/// <example>
/// <code>
/// await using var redis = await RedisEdgeTestServer.StartAsync();
/// // RedisEdge:Redis:Configuration = redis.Configuration
/// </code>
/// </example>
public sealed class RedisEdgeTestServer : IAsyncDisposable, IDisposable
{
    private const int StartAttempts = 5;

    private readonly GarnetServer _server;
    private int _disposed;

    private RedisEdgeTestServer(GarnetServer server, int port)
    {
        _server = server;
        Port = port;
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string of the server: <c>127.0.0.1:{Port}</c>.</summary>
    public string Configuration => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    /// <summary>Starts a server on a free loopback port. Dispose it to stop it and drop its data.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server.</returns>
    public static Task<RedisEdgeTestServer> StartAsync(CancellationToken cancellationToken = default)
        => StartAsync(luaTransactionMode: true, cancellationToken);

    /// <summary>
    /// Starts a server; <paramref name="luaTransactionMode"/> off exists only so a test can show what the mode
    /// prevents (scripts interleaving), never for use.
    /// </summary>
    internal static async Task<RedisEdgeTestServer> StartAsync(bool luaTransactionMode, CancellationToken cancellationToken)
    {
        var server = Start(luaTransactionMode, cancellationToken);
        try
        {
            await server.WarmUpAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private static RedisEdgeTestServer Start(bool luaTransactionMode, CancellationToken cancellationToken)
    {
        // Garnet binds synchronously in Start(); the port is free when chosen but another process may take it before
        // Garnet binds, so a failed bind retries on a new port.
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var port = FreeLoopbackPort();
            GarnetServer? server = null;
            try
            {
                server = new GarnetServer(Arguments(port, luaTransactionMode));
                server.Start();
                return new RedisEdgeTestServer(server, port);
            }
            catch (SocketException) when (attempt < StartAttempts)
            {
                server?.Dispose();
            }
            catch
            {
                server?.Dispose();
                throw;
            }
        }
    }

    internal static string[] Arguments(int port, bool luaTransactionMode)
    {
        var arguments = new List<string>
        {
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--bind", IPAddress.Loopback.ToString(),
            "--lua",
            // INFO commandstats, off by default in Garnet: tests count EVAL/EVALSHA calls with it, as on Redis.
            "--commandstats-monitor",
        };
        if (luaTransactionMode)
        {
            arguments.Add("--lua-transaction-mode");
        }

        return [.. arguments];
    }

    /// <summary>
    /// Runs one script that reads the clock and writes and deletes a key. The first script a Garnet process runs
    /// compiles its Lua path (hundreds of milliseconds on a busy machine), which would otherwise land on the app's
    /// first request and can exceed a RedisEdge call's <c>Failure:Timeout</c>. It also proves the server answers.
    /// </summary>
    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        const string Script = "redis.call('SET', KEYS[1], redis.call('TIME')[1]) return redis.call('DEL', KEYS[1])";
        string[] command = ["EVAL", Script, "1", "{redisedge-testing}:warm-up"];
        var request = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{command.Length}\r\n");
        foreach (var part in command)
        {
            request.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(part)}\r\n{part}\r\n");
        }

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), cancellationToken).ConfigureAwait(false);
        var reply = new byte[256];
        var read = await stream.ReadAsync(reply, cancellationToken).ConfigureAwait(false);
        var answer = Encoding.UTF8.GetString(reply, 0, read);
        if (!answer.StartsWith(":1", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The embedded server on {Configuration} did not run a Lua script: {answer.Trim()}");
        }
    }

    /// <summary>Stops the server; its data is gone.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _server.Dispose();
        }
    }

    /// <summary>Stops the server; its data is gone.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
