using RedisEdge.Sessions.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// A user's index of sessions stays bounded: dead entries are pruned by later logins even without a per-user limit,
/// and listing or revoking thousands of sessions works in batches, never one call per session all at once nor one
/// script with every session.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionUserIndexTests(RedisServerFixture redis)
{
    /// <summary>The most calls one instance may have in flight at once, and the most keys plus arguments of one call.</summary>
    private const int MaxCallsInFlight = 256;
    private const int MaxScriptSize = 600;

    [Fact]
    public async Task TenThousandLoginsOfOneUser_ListingAndRevokeAll_StayBoundedInCallsInFlightAndScriptSize()
    {
        const int logins = 10_000;
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3);
        await Parallel.ForEachAsync(Enumerable.Range(0, logins), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            await new SessionBrowser().PostAsync(fleet[i % 3], "/login/alice"));
        Assert.Equal(logins, await redis.Database.SortedSetLengthAsync(UserIndex(fleet, "alice")));

        using (var calls = new CallRecorder(fleet[1]))
        {
            var listed = (await new SessionBrowser().GetAsync(fleet[1], "/sessions/alice")).Split(',');
            Assert.Equal(logins, listed.Distinct().Count());
            calls.AssertBounded();
        }

        using (var calls = new CallRecorder(fleet[2]))
        {
            Assert.Equal(logins.ToString(System.Globalization.CultureInfo.InvariantCulture), await new SessionBrowser().PostAsync(fleet[2], "/revoke-all/alice"));
            calls.AssertBounded();
        }

        Assert.Empty(await redis.KeysAsync(fleet.KeyPrefix));
    }

    [Fact]
    public async Task SessionsThatIdledOut_ArePrunedFromTheIndexByLaterLogins_WithoutAPerUserLimit()
    {
        await using var fleet = await SessionTestApp.StartAsync(redis, instances: 3, new Dictionary<string, string?> { ["RedisEdge:Sessions:IdleTimeout"] = "00:00:01" });
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            await new SessionBrowser().PostAsync(fleet[i % 3], "/login/alice"));
        Assert.Equal(200, await redis.Database.SortedSetLengthAsync(UserIndex(fleet, "alice")));

        // Nobody comes back: after the idle timeout Redis has expired every session, but the index still names them.
        for (var i = 0; i < 200 && (await redis.KeysAsync(fleet.KeyPrefix)).Count > 1; i++)
        {
            await Task.Delay(50);
        }

        Assert.Single(await redis.KeysAsync(fleet.KeyPrefix));
        Assert.Equal(200, await redis.Database.SortedSetLengthAsync(UserIndex(fleet, "alice")));

        for (var i = 0; i < 40; i++)
        {
            await new SessionBrowser().PostAsync(fleet[i % 3], "/login/alice");
        }

        Assert.InRange(await redis.Database.SortedSetLengthAsync(UserIndex(fleet, "alice")), 1, 40);
    }

    private static string UserIndex(RedisFleet fleet, string user) =>
        $"{fleet.KeyPrefix}:sessions:{{{RedisSessionStore.UserTag(user)}}}:user";

    /// <summary>Records, for one instance, the most script calls in flight at once and the largest call.</summary>
    private sealed class CallRecorder : IDisposable
    {
        private readonly RedisSessionStore _store;
        private readonly object _lock = new();
        private int _inFlight;
        private int _calls;

        public CallRecorder(RedisFleetInstance instance)
        {
            _store = (RedisSessionStore)instance.Services.GetService(typeof(RedisSessionStore))!;
            _store.ScriptCallStarted = (_, size) =>
            {
                lock (_lock)
                {
                    _calls++;
                    _inFlight++;
                    MaxInFlight = Math.Max(MaxInFlight, _inFlight);
                    MaxSize = Math.Max(MaxSize, size);
                }
            };
            _store.ScriptCallEnded = _ =>
            {
                lock (_lock)
                {
                    _inFlight--;
                }
            };
        }

        public int MaxInFlight { get; private set; }

        public int MaxSize { get; private set; }

        public void AssertBounded()
        {
            Assert.True(_calls > 0);
            Assert.True(MaxInFlight <= MaxCallsInFlight, $"{MaxInFlight} calls were in flight at once ({_calls} in all).");
            Assert.True(MaxSize <= MaxScriptSize, $"A call carried {MaxSize} keys and arguments.");
        }

        public void Dispose()
        {
            _store.ScriptCallStarted = null;
            _store.ScriptCallEnded = null;
        }
    }
}
