using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using RedisEdge.Tests.Infrastructure;
using RedisEdge.Tests.RateLimiting;

namespace RedisEdge.Tests.Samples;

[Collection(RedisCollection.Name)]
public sealed class SampleRateLimitingTests(RedisServerFixture redis)
{
    [Fact]
    public async Task EveryAlgorithmEndpoint_IsLimitedFromAppsettings()
    {
        await using var factory = SampleApp.Create(redis);
        var client = factory.CreateClient();

        foreach (var (path, policy) in new[]
        {
            ("fixed-window", "fixed-window"), ("sliding-log", "sliding-log"), ("sliding-counter", "sliding-counter"),
            ("token-bucket", "token-bucket"), ("gcra", "gcra"), ("gcra-queue", "gcra-queue"), ("api-key", "api-key"),
        })
        {
            var response = await client.GetAsync("/rate-limit/" + path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var fields = StructuredFieldList.Parse(string.Join(", ", response.Headers.GetValues("RateLimit-Policy")));
            Assert.Equal(policy, Assert.Single(fields).Item);
            if (path == "token-bucket")
            {
                // Bursts of 5, 1 per second sustained: the capacity over its refill time, so q/w is the sustained rate
                // and r (up to the capacity) never exceeds q.
                Assert.Equal(5L, fields[0].Parameters["q"]);
                Assert.Equal(5L, fields[0].Parameters["w"]);
            }
        }

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            statuses.Add((await client.GetAsync("/rate-limit/fixed-window")).StatusCode);
        }

        Assert.Equal(9, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);

        using var banned = new HttpRequestMessage(HttpMethod.Get, "/rate-limit/api-key");
        banned.Headers.Add("X-Api-Key", "banned");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(banned)).StatusCode);
    }

    [Fact]
    public async Task BehindTheTrustedProxy_EachForwardedClientGetsItsOwnQuota_AndOthersCannotSpoofOne()
    {
        await using var factory = SampleApp.Create(redis);
        _ = factory.Server;

        async Task<int> Accepted(string remote, string? forwardedFor)
        {
            var accepted = 0;
            for (var i = 0; i < 12; i++)
            {
                var context = await factory.Server.SendAsync(c =>
                {
                    c.Request.Method = HttpMethods.Get;
                    c.Request.Path = "/rate-limit/fixed-window";
                    c.Connection.RemoteIpAddress = IPAddress.Parse(remote);
                    if (forwardedFor is not null)
                    {
                        c.Request.Headers["X-Forwarded-For"] = forwardedFor;
                    }
                });
                accepted += context.Response.StatusCode == StatusCodes.Status200OK ? 1 : 0;
            }

            return accepted;
        }

        // Three clients behind the balancer on loopback: 10 per minute each, not 10 between them.
        Assert.Equal(10, await Accepted("127.0.0.1", "203.0.113.1"));
        Assert.Equal(10, await Accepted("127.0.0.1", "203.0.113.2"));
        Assert.Equal(10, await Accepted("::1", "2001:db8:1:2::1"));

        // A client that is not a known proxy cannot choose its partition: its header is ignored.
        Assert.Equal(10, await Accepted("192.0.2.50", "203.0.113.3"));
        Assert.Equal(0, await Accepted("192.0.2.50", "203.0.113.4"));
    }
}
