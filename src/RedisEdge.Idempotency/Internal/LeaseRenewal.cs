using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Renews the claim every third of the lease while the handler runs and until its outcome is settled (stored,
/// released or marked unknown), so neither a slow handler nor a slow settlement loses its key to a retry; stops when
/// disposed, or when a renewal finds the claim lost, which cancels <see cref="LeaseLost"/>.
/// </summary>
internal sealed class LeaseRenewal : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _loop;

    public LeaseRenewal(IdempotencyStore store, RedisKey key, string owner, IdempotencyPolicy policy, TimeProvider timeProvider, ILogger logger)
    {
        LeaseLost = _lost.Token;
        var interval = policy.Lease / 3;
        _loop = Task.Run(() => RunAsync(store, key, owner, policy, interval, timeProvider, logger));
    }

    /// <summary>Whether a renewal found the claim owned by another execution (or gone).</summary>
    public bool Lost => _lost.IsCancellationRequested;

    /// <summary>Cancelled when a renewal finds the claim owned by another execution (or gone).</summary>
    public CancellationToken LeaseLost { get; }

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
                    await _lost.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
            catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisException or ObjectDisposedException)
            {
                // ObjectDisposedException: the app is stopping under a running request and its multiplexer is gone.
                Log.RenewFailed(logger, ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();

        // _lost is not disposed: its token may still be held by the handler's feature; it owns no timer.
    }
}
