using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.RateLimiting;
using RedisEdge.RateLimiting.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// Rate limiting on the shared real Redis Cluster: an endpoint combining an IP policy and an API-key policy, whose
/// partitions hash to different slots, is decided per slot and refunded where it committed, so it stays
/// all-or-nothing: never more than either limit, and at rest each counter holds exactly the admitted requests.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class RateLimitingClusterTests(RedisClusterFixture cluster)
{
    private const int IpLimit = 30;
    private const int KeyLimit = 45;
    private const int Clients = 64;
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Theory]
    [InlineData(RedisRateLimitAlgorithm.FixedWindow)]
    [InlineData(RedisRateLimitAlgorithm.TokenBucket)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowLog)]
    [InlineData(RedisRateLimitAlgorithm.SlidingWindowCounter)]
    [InlineData(RedisRateLimitAlgorithm.Gcra)]
    public async Task PoliciesInDifferentSlots_ThreeInstances64Clients_NeverExceedEitherLimit_AndCountExactlyTheAdmitted(RedisRateLimitAlgorithm algorithm)
    {
        // Coalescing off: with it, the single-policy /key requests use up the key limit in a few batched calls, and
        // whether any /both request then lands between the two limits (the refund this test is about) is a matter of
        // timing. Exactness with coalescing on is the fleet tests' subject, on the cluster too.
        await using var fleet = await StartAsync(algorithm, IpLimit, KeyLimit, (app, _) =>
        {
            app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key");
            app.MapGet("/key", () => "ok").RequireRateLimit("key");
        }, settings: new() { [$"{RateLimitTestApp.Section}:CoalesceHotPartitions"] = "false" });
        var refunds = fleet.Instances.Select(i => new MeasurementRecorder<long>(
            i.Services.GetRequiredService<RateLimitingMetrics>().Telemetry.Meter, RedisRateLimitingDefaults.RefundsInstrument)).ToList();

        // Half the requests need both policies, half only the API key's, so each policy rejects some that the other accepted.
        var responses = new List<(string Path, HttpStatusCode Status)>();
        var tasks = Enumerable.Range(0, Clients).Select(async c =>
        {
            var mine = new List<(string, HttpStatusCode)>();
            for (var r = 0; r < 3; r++)
            {
                var path = (c + r) % 2 == 0 ? "/both" : "/key";
                mine.Add((path, (await fleet[(c + r) % fleet.Count].Client.GetAsync(path)).StatusCode));
            }

            return mine;
        });
        foreach (var list in await Task.WhenAll(tasks))
        {
            responses.AddRange(list);
        }

        Assert.DoesNotContain(responses, r => r.Status is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
        var both = responses.Count(r => r.Path == "/both" && r.Status == HttpStatusCode.OK);
        var keyOnly = responses.Count(r => r.Path == "/key" && r.Status == HttpStatusCode.OK);
        Assert.InRange(both, 1, IpLimit);
        Assert.InRange(both + keyOnly, IpLimit, KeyLimit);

        var (ipKey, apiKey) = await KeysAsync(fleet, algorithm);
        Assert.NotEqual(cluster.Admin.HashSlot(ipKey), cluster.Admin.HashSlot(apiKey));
        Assert.Equal(both, await CountAsync(algorithm, ipKey, IpLimit));
        Assert.Equal(both + keyOnly, await CountAsync(algorithm, apiKey, KeyLimit));

        // The burst made each policy reject requests the other had reserved, and those reservations were given back.
        var given = refunds.SelectMany(r => r.Measurements).ToList();
        Assert.NotEmpty(given);
        Assert.All(given, m => Assert.Equal("success", m.Tags[RedisRateLimitingDefaults.OutcomeTag]));
        refunds.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task SingleHashSlot_TwoPartitioningsOnOneEndpoint_OneCallPerRequest_AndEveryApiKeyItsOwnLimit()
    {
        // Every rate-limit key in one slot: an endpoint mixing IP and API-key partitions is one call per request (no
        // second slot, no refund), and each API key still has its own counter. Two keys from one IP, 96 requests each.
        const int keyLimit = 20;
        string[] apiKeys = ["k1", "k2"];
        await using var fleet = await StartAsync(RedisRateLimitAlgorithm.FixedWindow, 1_000, keyLimit, (app, _) =>
            app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key"),
            apiKeyFromClient: true,
            settings: new() { [$"{RateLimitTestApp.Section}:SingleHashSlot"] = "true" });
        var before = await cluster.CommandStatsAsync();

        var tasks = Enumerable.Range(0, Clients).Select(async c =>
        {
            var mine = new List<(string Key, HttpStatusCode Status)>();
            for (var r = 0; r < 3; r++)
            {
                var apiKey = apiKeys[(c + r) % 2];
                using var response = await Send(fleet[(c + r) % fleet.Count], apiKey);
                mine.Add((apiKey, response.StatusCode));
            }

            return mine;
        });
        var responses = (await Task.WhenAll(tasks)).SelectMany(l => l).ToList();
        var after = await cluster.CommandStatsAsync();

        Assert.DoesNotContain(responses, r => r.Status is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
        Assert.All(apiKeys, k => Assert.Equal(keyLimit, responses.Count(r => r.Key == k && r.Status == HttpStatusCode.OK)));

        var keys = await cluster.KeysAsync(fleet.KeyPrefix + ":rl:");
        Assert.Equal(3, keys.Count);
        Assert.Single(keys.Select(k => cluster.Admin.HashSlot(k)).Distinct());
        Assert.Equal(2 * keyLimit, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, keys.Single(k => k.EndsWith(":ip:fw", StringComparison.Ordinal)), 1_000));
        Assert.All(keys.Where(k => k.EndsWith(":key:fw", StringComparison.Ordinal)), k => Assert.Equal(keyLimit, (long)cluster.Database.HashGet(k, "c")));

        // Coalescing may share calls between identical requests; it never adds any, and nothing is refunded.
        static long Scripts(Dictionary<string, long> stats) => stats.GetValueOrDefault("evalsha") + stats.GetValueOrDefault("eval");
        Assert.InRange(Scripts(after) - Scripts(before), 1, responses.Count);
    }

    [Fact]
    public async Task ConcurrencyPoliciesInDifferentSlots_HoldExactlyTheAdmittedLeases_AndReleaseThemAll()
    {
        const int ipLimit = 4;
        const int keyLimit = 6;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inBoth = 0, inKey = 0;
        await using var fleet = await StartAsync(RedisRateLimitAlgorithm.Concurrency, ipLimit, keyLimit, (app, _) =>
        {
            app.MapGet("/both", async () =>
            {
                Interlocked.Increment(ref inBoth);
                await gate.Task;
                return "ok";
            }).RequireRateLimit("ip").RequireRateLimit("key");
            app.MapGet("/key", async () =>
            {
                Interlocked.Increment(ref inKey);
                await gate.Task;
                return "ok";
            }).RequireRateLimit("key");
        });

        // The two slots are reserved in parallel calls, so under a concurrent burst the holders of "ip" and of "key"
        // can be different requests, each refunded: fewer than the limits may end up held (once none of the two-policy
        // requests on a loaded machine). So first fill "ip" one request at a time, then send the burst.
        var requests = new List<Task<HttpResponseMessage>>();
        for (var held = 1; held <= ipLimit; held++)
        {
            requests.Add(fleet[held % fleet.Count].Client.GetAsync("/both"));
            for (var attempt = 0; attempt < 600 && Volatile.Read(ref inBoth) < held && !requests[^1].IsCompleted; attempt++)
            {
                await Task.Delay(10);
            }
        }

        Assert.Equal(ipLimit, inBoth);
        var burst = Enumerable.Range(0, 3 * Clients)
            .Select(c => fleet[c % fleet.Count].Client.GetAsync(c % 2 == 0 ? "/both" : "/key"))
            .ToList();
        requests.AddRange(burst);
        for (var attempt = 0; attempt < 600 && burst.Count(r => r.IsCompleted) + Volatile.Read(ref inBoth) - ipLimit + Volatile.Read(ref inKey) < burst.Count; attempt++)
        {
            await Task.Delay(50);
        }

        // Every request is now either holding its leases or answered 429: the leases in Redis are exactly the holders'.
        Assert.Equal(ipLimit, inBoth);
        Assert.InRange(inKey, 0, keyLimit - ipLimit);
        Assert.All(requests.Where(r => r.IsCompleted), r => Assert.Equal(HttpStatusCode.TooManyRequests, r.Result.StatusCode));
        var (ipKey, apiKey) = await KeysAsync(fleet, RedisRateLimitAlgorithm.Concurrency);
        Assert.NotEqual(cluster.Admin.HashSlot(ipKey), cluster.Admin.HashSlot(apiKey));
        Assert.Equal(inBoth, await cluster.Database.SortedSetLengthAsync(ipKey));
        Assert.Equal(inBoth + inKey, await cluster.Database.SortedSetLengthAsync(apiKey));

        gate.SetResult();
        var responses = await Task.WhenAll(requests);
        Assert.Equal(inBoth + inKey, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(0, await cluster.Database.SortedSetLengthAsync(ipKey));
        Assert.Equal(0, await cluster.Database.SortedSetLengthAsync(apiKey));
    }

    [Fact]
    public async Task RequestRejectedByThePolicyInTheOtherSlot_LeavesTheFirstUnchanged_InTwoParallelCallsAndOneRefund()
    {
        await using var fleet = await StartAsync(RedisRateLimitAlgorithm.FixedWindow, 10, 2, (app, _) =>
            app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key"), instances: 1);
        var instance = fleet[0];
        using var refunds = new MeasurementRecorder<long>(
            instance.Services.GetRequiredService<RateLimitingMetrics>().Telemetry.Meter, RedisRateLimitingDefaults.RefundsInstrument);

        Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/both")).StatusCode); // loads the script on both nodes
        var (ipKey, apiKey) = await KeysAsync(fleet, RedisRateLimitAlgorithm.FixedWindow);
        Assert.NotEqual(cluster.Admin.HashSlot(ipKey), cluster.Admin.HashSlot(apiKey));
        using (var scope = instance.Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.OK, (await instance.Client.GetAsync("/both")).StatusCode);
            Assert.Equal(["EVAL", "EVAL"], scope.Commands);
        }

        Assert.Equal(2, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, ipKey, 10));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await instance.Client.GetAsync("/both")).StatusCode); // loads the refund script
        for (var i = 0; i < 3; i++)
        {
            using var scope = instance.Commands.Begin();
            var rejected = await instance.Client.GetAsync("/both");
            Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);

            // Both slots in parallel, then the refund of the IP policy's reservation.
            Assert.Equal(["EVAL", "EVAL", "EVAL"], scope.Commands);
            var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(["key"], problem.GetProperty("violated-policies").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(2, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, ipKey, 10));
            Assert.Equal(2, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 2));
        }

        Assert.Equal(4, refunds.Measurements.Count);
        Assert.All(refunds.Measurements, m => Assert.Equal("ip", m.Tags[RedisRateLimitingDefaults.PolicyTag]));
    }

    [Fact]
    public async Task OneSlotSlowerThanTheTimeout_TheOtherSlotIsRefunded_AndTheFailureModeApplies_NeverA500()
    {
        var settings = new Dictionary<string, string?>
        {
            [$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:00.300",
            [$"{RateLimitTestApp.Section}:Policies:key:FailureMode"] = "FailClosed",
        };
        await using var fleet = await StartAsync(RedisRateLimitAlgorithm.FixedWindow, 100, 100, (app, _) =>
            app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key"), instances: 1, apiKeyFromClient: true, settings);
        var instance = fleet[0];
        using var refunds = new MeasurementRecorder<long>(
            instance.Services.GetRequiredService<RateLimitingMetrics>().Telemetry.Meter, RedisRateLimitingDefaults.RefundsInstrument);

        // An API key whose counter lives on another primary than the IP's, so pausing one leaves the other answering.
        string ipKey = "", apiKey = "", apiKeyValue = "";
        StackExchange.Redis.IServer? apiNode = null;
        var seen = new HashSet<string>();
        for (var i = 0; apiNode is null && i < 30; i++)
        {
            apiKeyValue = "k" + i.ToString(CultureInfo.InvariantCulture);
            Assert.Equal(HttpStatusCode.OK, (await Send(instance, apiKeyValue)).StatusCode);
            var owners = await OwnersAsync(fleet.KeyPrefix + ":rl:");
            ipKey = owners.Keys.Single(k => k.EndsWith(":ip:fw", StringComparison.Ordinal));
            apiKey = owners.Keys.Single(k => k.EndsWith(":key:fw", StringComparison.Ordinal) && !seen.Contains(k));
            seen.Add(apiKey);
            apiNode = owners[apiKey] == owners[ipKey] ? null : owners[apiKey];
        }

        Assert.NotNull(apiNode);
        var ipBefore = await CountAsync(RedisRateLimitAlgorithm.FixedWindow, ipKey, 100);
        var keyBefore = await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 100);
        await apiNode.ExecuteAsync("CLIENT", "PAUSE", "10000", "WRITE");
        HttpResponseMessage response;
        try
        {
            response = await Send(instance, apiKeyValue);
        }
        finally
        {
            await apiNode.ExecuteAsync("CLIENT", "UNPAUSE");
        }

        // FailClosed: a 503 with Retry-After, and the IP slot's reservation was given back.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(ipBefore, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, ipKey, 100));
        var refund = Assert.Single(refunds.Measurements);
        Assert.Equal("ip", refund.Tags[RedisRateLimitingDefaults.PolicyTag]);

        // The documented bound: the timed-out call still runs once Redis resumes and counts the refused request
        // (an under-admission), as a timed-out single-slot call would.
        var keyAfter = keyBefore;
        for (var attempt = 0; attempt < 100 && keyAfter == keyBefore; attempt++)
        {
            await Task.Delay(50);
            keyAfter = await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 100);
        }

        Assert.Equal(keyBefore + 1, keyAfter);
    }

    [Fact]
    public async Task RejectionCausedByAReservationLaterRefunded_IsNotRememberedLocally()
    {
        // /both reserves the API key's permit in its slot while the IP slot's call hangs (its primary paused), then
        // refunds it when that call times out. A /key request landing in between is rejected by Redis because of that
        // reservation alone; the local deny cache must not remember it, or the key stays refused for the whole window.
        var settings = new Dictionary<string, string?> { [$"{RateLimitTestApp.Section}:Failure:Timeout"] = "00:00:02" }
            .Policy("ip", RedisRateLimitAlgorithm.FixedWindow, 100, Hour, ("Partition", "Ip"))
            .Policy("key", RedisRateLimitAlgorithm.FixedWindow, 2, Hour, ("Partition", "Header"), ("PartitionName", "X-Api-Key"));
        await using var fleet = await RateLimitTestApp.StartAsync(
            cluster,
            settings,
            (app, _) =>
            {
                app.MapGet("/both", () => "ok").RequireRateLimit("ip").RequireRateLimit("key");
                app.MapGet("/key", () => "ok").RequireRateLimit("key");
            },
            instances: 1,
            configure: o => o.CoalesceHotPartitions = false,
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
                return next(context);
            }));
        var instance = fleet[0];
        Assert.True(instance.Services.GetRequiredService<RedisRateLimiter>().OnCluster);

        // An API key whose counter lives on another primary than the IP's: each try takes 1 of that key's 2 permits.
        string ipKey = "", apiKey = "", apiKeyValue = "";
        StackExchange.Redis.IServer? ipNode = null;
        var seen = new HashSet<string>();
        for (var i = 0; ipNode is null && i < 30; i++)
        {
            apiKeyValue = "k" + i.ToString(CultureInfo.InvariantCulture);
            Assert.Equal(HttpStatusCode.OK, (await Send(instance, apiKeyValue)).StatusCode);
            var owners = await OwnersAsync(fleet.KeyPrefix + ":rl:");
            ipKey = owners.Keys.Single(k => k.EndsWith(":ip:fw", StringComparison.Ordinal));
            apiKey = owners.Keys.Single(k => k.EndsWith(":key:fw", StringComparison.Ordinal) && !seen.Contains(k));
            seen.Add(apiKey);
            ipNode = owners[apiKey] == owners[ipKey] ? null : owners[ipKey];
        }

        Assert.NotNull(ipNode);
        Assert.Equal(1, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 2));
        HttpResponseMessage reservedMeanwhile;
        await ipNode.ExecuteAsync("CLIENT", "PAUSE", "20000", "WRITE");
        try
        {
            var both = Send(instance, apiKeyValue, "/both");
            for (var attempt = 0; attempt < 200 && await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 2) < 2; attempt++)
            {
                await Task.Delay(10);
            }

            Assert.Equal(2, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 2));
            reservedMeanwhile = await Send(instance, apiKeyValue, "/key");

            // The IP slot times out: the key's reservation is refunded, and the request fails open.
            Assert.Equal(HttpStatusCode.OK, (await both).StatusCode);
        }
        finally
        {
            await ipNode.ExecuteAsync("CLIENT", "UNPAUSE");
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, reservedMeanwhile.StatusCode);
        Assert.Equal(1, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 2));

        // The key has a permit again, and the instance asks Redis instead of repeating the rejection.
        Assert.Equal(HttpStatusCode.OK, (await Send(instance, apiKeyValue, "/key")).StatusCode);
        Assert.Equal(2, await CountAsync(RedisRateLimitAlgorithm.FixedWindow, apiKey, 2));
    }

    private static Task<HttpResponseMessage> Send(RedisFleetInstance instance, string apiKey, string path = "/both")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", apiKey);
        return instance.Client.SendAsync(request);
    }

    private async Task<Dictionary<string, StackExchange.Redis.IServer>> OwnersAsync(string prefix)
    {
        var owners = new Dictionary<string, StackExchange.Redis.IServer>();
        foreach (var server in cluster.Primaries)
        {
            await foreach (var key in server.KeysAsync(pattern: prefix + "*"))
            {
                owners[key.ToString()] = server;
            }
        }

        return owners;
    }

    private Task<RedisFleet> StartAsync(
        RedisRateLimitAlgorithm algorithm,
        int ipLimit,
        int keyLimit,
        Action<WebApplication, int> endpoints,
        int instances = 3,
        bool apiKeyFromClient = false,
        Dictionary<string, string?>? settings = null)
    {
        var extra = algorithm == RedisRateLimitAlgorithm.TokenBucket ? new[] { ("TokensPerPeriod", "1") } : [];
        TimeSpan? window = algorithm == RedisRateLimitAlgorithm.Concurrency ? null : Hour;
        settings = (settings ?? [])
            .Policy("ip", algorithm, ipLimit, window, [.. extra, ("Partition", "Ip")])
            .Policy("key", algorithm, keyLimit, window, [.. extra, ("Partition", "Header"), ("PartitionName", "X-Api-Key")]);
        return RateLimitTestApp.StartAsync(
            cluster,
            settings,
            endpoints,
            instances,
            configure: o => o.LocalDenyCache = false,
            beforeRateLimiting: (app, _) => app.Use((context, next) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
                if (!apiKeyFromClient)
                {
                    context.Request.Headers["X-Api-Key"] = "k1";
                }

                return next(context);
            }));
    }

    private async Task<(string Ip, string Key)> KeysAsync(RedisFleet fleet, RedisRateLimitAlgorithm algorithm)
    {
        var keys = await cluster.KeysAsync(fleet.KeyPrefix + ":rl:");
        var suffix = ":" + RateLimitPolicy.AlgorithmToken(algorithm);
        return (keys.Single(k => k.EndsWith(":ip" + suffix, StringComparison.Ordinal)), keys.Single(k => k.EndsWith(":key" + suffix, StringComparison.Ordinal)));
    }

    /// <summary>The permits a policy's state holds now (every test here runs well inside its one-hour window).</summary>
    private async Task<long> CountAsync(RedisRateLimitAlgorithm algorithm, string key, int limit)
    {
        var db = cluster.Database;
        switch (algorithm)
        {
            case RedisRateLimitAlgorithm.FixedWindow or RedisRateLimitAlgorithm.SlidingWindowCounter:
                return (long)await db.HashGetAsync(key, "c");
            case RedisRateLimitAlgorithm.SlidingWindowLog:
                return await db.SortedSetLengthAsync(key);
            default:
                // GCRA: the theoretical arrival time is ahead of now by one emission interval per admitted request.
                // Token bucket: the time the bucket is full again is ahead of now by one refill interval per token
                // taken (one token an hour here, so a few seconds of refill round away).
                var at = await db.StringGetAsync(key);
                var now = await cluster.ServerTimeAsync();
                var nowMs = (now - DateTime.UnixEpoch).TotalMilliseconds;
                var interval = algorithm == RedisRateLimitAlgorithm.TokenBucket ? Hour.TotalMilliseconds : Hour.TotalMilliseconds / limit;
                return at.IsNull ? 0 : (long)Math.Round((double.Parse(at.ToString(), CultureInfo.InvariantCulture) - nowMs) / interval);
        }
    }
}
