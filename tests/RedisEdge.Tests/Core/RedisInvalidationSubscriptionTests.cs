using Microsoft.Extensions.Logging.Abstractions;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.ResponseCaching;
using StackExchange.Redis;

namespace RedisEdge.Tests.Core;

/// <summary>
/// The subscription both near caches hang on: every connection failure suspends the cache, and it resumes only once
/// a sentinel it published after that failure has come back, whatever order the multiplexer's events are handled in.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisInvalidationSubscriptionTests(RedisServerFixture redis)
{
    [Fact]
    public async Task AFailureHandledAfterItsRestoration_IsStillFollowedByAVerifiedResume()
    {
        await using var services = CoreTestServices.Create(redis.Configuration);
        var channel = RedisChannel.Literal(RedisServerFixture.UniquePrefix() + ":invalidations");
        var messages = new List<string>();
        var suspends = 0;
        var resumes = 0;
        using var subscription = new RedisInvalidationSubscription(
            services.Connection,
            channel,
            "test",
            NullLogger.Instance,
            message => { lock (messages) { messages.Add(message); } },
            () => Interlocked.Increment(ref suspends),
            () => Interlocked.Increment(ref resumes));
        await subscription.StartAsync();
        Assert.Equal(1, Volatile.Read(ref resumes));

        // The multiplexer raises its events on the thread pool, so a connection's restoration can be handled, and
        // verified, before the failure it followed. Cluster runs of the session near-cache tests saw exactly this
        // after CLIENT KILL TYPE pubsub: the late failure emptied the cache and nothing ever resumed it.
        var endPoint = redis.Admin.GetEndPoints()[0];
        subscription.OnConnectionRestored(null, Event(endPoint));
        await CacheTestApp.EventuallyAsync(() => Volatile.Read(ref resumes) == 2, "the restoration was verified");

        subscription.OnConnectionFailed(null, Event(endPoint));
        Assert.Equal(1, Volatile.Read(ref suspends));
        await CacheTestApp.EventuallyAsync(() => Volatile.Read(ref resumes) == 3, "the late failure was followed by a verified resume");

        // Resumed on a live subscription: messages still arrive, and the sentinels never reach the cache.
        await redis.Admin.GetSubscriber().PublishAsync(channel, "tag 7");
        await CacheTestApp.EventuallyAsync(() => { lock (messages) { return messages.Count == 1; } }, "the message arrived");
        lock (messages)
        {
            Assert.Equal(["tag 7"], messages);
        }
    }

    private ConnectionFailedEventArgs Event(System.Net.EndPoint endPoint) =>
        new(this, endPoint, ConnectionType.Subscription, ConnectionFailureType.SocketClosed, null!, "test");
}
