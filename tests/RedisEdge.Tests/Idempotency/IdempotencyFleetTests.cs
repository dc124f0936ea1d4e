using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>Three app instances over one Redis: one key executes once for the whole fleet.</summary>
public abstract class IdempotencyFleetTests(RedisTestServer redis)
{
    /// <summary>Whether the instances run on Kestrel over real sockets rather than on TestServer.</summary>
    protected virtual bool Kestrel => false;

    [Fact]
    public async Task RoundTrips_OneForAReplayOrAConflict_TwoForAFirstExecution()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/fast", () => Results.Created("/fast/1", new { ok = true })).WithIdempotency();
            app.MapPost("/slow", async () =>
            {
                entered.TrySetResult();
                await hold.Task;
                return Results.Ok();
            }).WithIdempotency();
        }, instances: 2, kestrel: Kestrel);
        Assert.Equal(HttpStatusCode.Created, (await fleet[0].PostAsync("/fast", "warm-up")).StatusCode); // loads the scripts

        var before = await redis.CommandStatsAsync();
        using (var scope = fleet[0].Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.Created, (await fleet[0].PostAsync("/fast", "rt-1")).StatusCode);
            Assert.Equal(["EVAL", "EVAL"], scope.Commands); // claim + complete
        }

        using (var scope = fleet[0].Commands.Begin())
        {
            Assert.True((await fleet[0].PostAsync("/fast", "rt-1")).IsReplay());
            Assert.Equal(["EVAL"], scope.Commands); // claim answers with the stored response
        }

        var after = await redis.CommandStatsAsync();
        long Delta(string command) => after.GetValueOrDefault(command) - before.GetValueOrDefault(command);
        Assert.Equal(3, Delta("evalsha") + Delta("eval"));
        if (!redis.IsCluster)
        {
            // One server, warmed up: every call is an EVALSHA. On a cluster the first call on each primary is an EVAL.
            Assert.Equal(3, Delta("evalsha"));
        }

        var slow = fleet[0].PostAsync("/slow", "rt-2");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using (var scope = fleet[1].Commands.Begin())
        {
            Assert.Equal(HttpStatusCode.Conflict, (await fleet[1].PostAsync("/slow", "rt-2")).StatusCode);
            Assert.Equal(["EVAL"], scope.Commands);
        }

        hold.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await slow).StatusCode);
    }

    [Fact]
    public async Task ThreeInstancesFiftyConcurrentRequestsEach_OneKey_HandlerRunsOnce_OthersGetConflictOrTheIdenticalReplay()
    {
        var executions = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, i) =>
            app.MapPost("/payments", async (HttpContext context) =>
            {
                var n = Interlocked.Increment(ref executions);
                await release.Task;
                context.Response.Headers.Location = $"/payments/{n}";
                context.Response.Headers.ETag = $"\"{n}\"";
                return Results.Json(new { payment = Guid.NewGuid(), instance = i, execution = n }, statusCode: StatusCodes.Status201Created);
            }).WithIdempotency(), instances: 3, kestrel: Kestrel);

        var key = Guid.NewGuid().ToString();
        var requests = Enumerable.Range(0, 150).Select(r => Task.Run(() => fleet[r % 3].PostAsync("/payments", key))).ToList();

        // Let the one execution finish only once most requests had a chance to arrive while it was in flight.
        await Task.WhenAny(Task.WhenAll(requests), Task.Delay(TimeSpan.FromSeconds(2)));
        release.SetResult();
        var responses = await Task.WhenAll(requests);

        Assert.Equal(1, executions);
        Assert.DoesNotContain(responses, r => r.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict));
        var original = Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created && !r.IsReplay());
        var originalBody = await original.Content.ReadAsByteArrayAsync();
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.Conflict);
        foreach (var conflict in responses.Where(r => r.StatusCode == HttpStatusCode.Conflict))
        {
            Assert.Equal("application/problem+json", conflict.Content.Headers.ContentType?.MediaType);
            Assert.InRange(conflict.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 30);
        }

        // Every retry after completion gets the same status, body bytes and allowed headers, from any instance.
        var replays = responses.Where(r => r.IsReplay()).ToList();
        for (var i = 0; i < 3; i++)
        {
            replays.Add(await fleet[i].PostAsync("/payments", key));
        }

        foreach (var replay in replays)
        {
            Assert.True(replay.IsReplay());
            Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
            Assert.Equal(originalBody, await replay.Content.ReadAsByteArrayAsync());
            Assert.Equal(original.Headers.Location, replay.Headers.Location);
            Assert.Equal(original.Headers.ETag, replay.Headers.ETag);
            Assert.Equal(original.Content.Headers.ContentType, replay.Content.Headers.ContentType);
        }

        Assert.Equal(1, executions);
        Assert.Single(await redis.RecordKeysAsync(fleet));
    }

    [Fact]
    public async Task TwoCallers_SameKeyValue_NeverSeeEachOthersResponses()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, i) => app.MapPost("/payments", () => Results.Json(new { execution = Interlocked.Increment(ref executions) }, statusCode: 201)).WithIdempotency(),
            instances: 2,
            settings: new() { [$"{IdempotencyTestApp.Section}:Scope"] = "Header", [$"{IdempotencyTestApp.Section}:ScopeHeaderName"] = "X-Api-Key" },
            kestrel: Kestrel);

        const string key = "shared-key-1";
        var alice = await fleet[0].PostAsync("/payments", key, apiKey: "alice");
        var bob = await fleet[1].PostAsync("/payments", key, apiKey: "bob");
        Assert.False(alice.IsReplay());
        Assert.False(bob.IsReplay());
        Assert.Equal(2, executions);
        var aliceBody = await alice.Content.ReadAsStringAsync();
        var bobBody = await bob.Content.ReadAsStringAsync();
        Assert.NotEqual(aliceBody, bobBody);

        // Each caller's retries replay their own response, whatever instance they reach.
        var aliceRetry = await fleet[1].PostAsync("/payments", key, apiKey: "alice");
        var bobRetry = await fleet[0].PostAsync("/payments", key, apiKey: "bob");
        Assert.True(aliceRetry.IsReplay());
        Assert.True(bobRetry.IsReplay());
        Assert.Equal(aliceBody, await aliceRetry.Content.ReadAsStringAsync());
        Assert.Equal(bobBody, await bobRetry.Content.ReadAsStringAsync());

        // A caller without the scope header is refused (the default), never shown alice's response nor given one scope
        // with every other unidentified caller.
        var anonymous = await fleet[0].PostAsync("/payments", key);
        Assert.Equal(HttpStatusCode.BadRequest, anonymous.StatusCode);
        Assert.False(anonymous.IsReplay());
        Assert.Equal(2, executions);
        Assert.Equal(2, (await redis.RecordKeysAsync(fleet)).Count);
    }

    [Fact]
    public async Task Replays_AreFramedAsTheOriginal_NoBodyFor204_ExactContentLengthOtherwise()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/cancel", () => { Interlocked.Increment(ref executions); return Results.NoContent(); }).WithIdempotency();
            app.MapPost("/orders", () => Results.Json(new { order = Interlocked.Increment(ref executions), note = new string('n', 3000) }, statusCode: 201))
                .WithIdempotency();
        }, instances: 2, kestrel: Kestrel);

        var cancelled = await fleet[0].PostAsync("/cancel", "frame-204");
        Assert.Equal(HttpStatusCode.NoContent, cancelled.StatusCode);
        var created = await fleet[0].PostAsync("/orders", "frame-201");
        var createdBody = await created.Content.ReadAsByteArrayAsync();

        // Twice per instance, over the same connections: a framing error would break the next exchange.
        for (var round = 0; round < 2; round++)
        {
            foreach (var instance in fleet.Instances)
            {
                var noContent = await instance.PostAsync("/cancel", "frame-204");
                Assert.Equal(HttpStatusCode.NoContent, noContent.StatusCode);
                Assert.True(noContent.IsReplay());
                Assert.Empty(await noContent.Content.ReadAsByteArrayAsync());

                var replay = await instance.PostAsync("/orders", "frame-201");
                Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
                Assert.True(replay.IsReplay());
                Assert.Equal(createdBody.Length, replay.Content.Headers.ContentLength);
                Assert.Equal(createdBody, await replay.Content.ReadAsByteArrayAsync());
            }
        }

        Assert.Equal(2, executions);
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
[Trait(ParityTrait.Name, ParityTrait.Value)]
public sealed class IdempotencyFleetTestsOnSingleNode(RedisServerFixture redis) : IdempotencyFleetTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class IdempotencyFleetTestsOnCluster(RedisClusterFixture redis) : IdempotencyFleetTests(redis);

/// <summary>
/// The same tests on Kestrel over real sockets, where users run: a remote address on every connection, response
/// framing (204, Content-Length) enforced by the server.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyFleetTestsOnKestrel(RedisServerFixture redis) : IdempotencyFleetTests(redis)
{
    protected override bool Kestrel => true;
}
