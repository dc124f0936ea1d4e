using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Renews the claim every third of the lease while the handler runs, so a slow handler never loses its key to a
/// retry; stops when the handler ends, or when the claim turns out to be lost.
/// </summary>
internal sealed class LeaseRenewal : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _lost;

    public LeaseRenewal(IdempotencyStore store, RedisKey key, string owner, IdempotencyPolicy policy, TimeProvider timeProvider, ILogger logger)
    {
        var interval = policy.Lease / 3;
        _loop = Task.Run(() => RunAsync(store, key, owner, policy, interval, timeProvider, logger));
    }

    /// <summary>Whether a renewal found the claim owned by another execution (or gone).</summary>
    public bool Lost => Volatile.Read(ref _lost) == 1;

    private async Task RunAsync(IdempotencyStore store, RedisKey key, string owner, IdempotencyPolicy policy, TimeSpan interval, TimeProvider timeProvider, ILogger logger)
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, timeProvider, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                if (!await store.RenewAsync(key, owner, policy).ConfigureAwait(false))
                {
                    Volatile.Write(ref _lost, 1);
                    return;
                }
            }
            catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException)
            {
                Log.RenewFailed(logger, ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
