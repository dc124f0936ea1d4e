using System.Net;
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
}
