using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Renews a fill lease every third of its lifetime while the origin runs, so the lease itself can be short: only a
/// filler that died (or lost Redis) lets it lapse, and then one waiting request takes over. Stops when disposed, or
/// when the lease turns out to be lost (evicted, or taken over).
/// </summary>
internal sealed class FillLease : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewal;

    public FillLease(ResponseCacheStore store, RedisKey entry, string owner, long leaseMs, string policy, TimeProvider timeProvider, ILogger logger)
    {
        _renewal = leaseMs > 0 ? RenewAsync(store, entry, owner, leaseMs, policy, timeProvider, logger, _stop.Token) : Task.CompletedTask;
    }

    private static async Task RenewAsync(ResponseCacheStore store, RedisKey entry, string owner, long leaseMs, string policy, TimeProvider timeProvider, ILogger logger, CancellationToken stop)
    {
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, leaseMs / 3));
        try
        {
            while (true)
            {
                await Task.Delay(interval, timeProvider, stop).ConfigureAwait(false);
                try
                {
                    if (!await store.RenewAsync(entry, owner, leaseMs).ConfigureAwait(false))
                    {
                        return;
                    }
                }
                catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException or TimeoutException)
                {
                    Log.RenewFailed(logger, policy, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The origin finished.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewal.ConfigureAwait(false);
        _stop.Dispose();
    }
}
