using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Samples;

/// <summary>
/// <c>GET /partner/quote</c> calls the sample's own stand-in partner through the HttpClient limited by the appsettings
/// policy <c>partner</c> (5 per second, sliding log). The tests reach the partner as an app's tests would: the named
/// client's primary handler is the TestServer's.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SamplePartnerTests(RedisServerFixture redis)
{
    [Fact]
    public async Task MoreThanFiveCallsInOneSecond_FiveReachThePartner_TheRestAre503WithRetryAfter()
    {
        WebApplicationFactory<Program>? factory = null;
        await using var sample = factory = SampleApp.Create(redis, RedisServerFixture.UniquePrefix(), web => web.ConfigureTestServices(services =>
            services.AddHttpClient("partner").ConfigurePrimaryHttpMessageHandler(() => factory!.Server.CreateHandler())));
        var client = sample.CreateClient();

        // Warm up (the first call compiles the whole path), then let that call slide out of the one-second window.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/partner/quote")).StatusCode);

        // A burst that took a loaded machine longer than the window proves nothing about the window: such a burst is
        // discarded and tried again, never asserted on.
        for (var attempt = 1; ; attempt++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1100));
            var clock = Stopwatch.StartNew();
            var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.GetAsync("/partner/quote")));
            if (clock.Elapsed > TimeSpan.FromMilliseconds(900) && attempt < 4)
            {
                continue;
            }

            var ok = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
            Assert.Equal(5, ok.Count);
            foreach (var quote in ok)
            {
                Assert.Equal("REDS", (await quote.Content.ReadFromJsonAsync<Quote>())!.Symbol);
            }

            var refused = responses.Except(ok).ToList();
            Assert.Equal(3, refused.Count);
            foreach (var response in refused)
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter!.Delta);
                var problem = await response.Content.ReadFromJsonAsync<Problem>();
                Assert.Equal(503, problem!.Status);
                Assert.Contains("'partner'", problem.Detail, StringComparison.Ordinal);
            }

            return;
        }
    }

    [Fact]
    public async Task PartnerBaseAddress_ThatIsNotAbsolute_FailsStartUpNamingThePath()
    {
        await using var sample = SampleApp.Create(redis, RedisServerFixture.UniquePrefix(), web => web.UseSetting("Partner:BaseAddress", "partner-api"));

        var error = Assert.ThrowsAny<Exception>(() => sample.CreateClient());
        Assert.Contains("Partner:BaseAddress must be an absolute URI", error.ToString(), StringComparison.Ordinal);
    }

    private sealed record Quote(string Symbol, decimal Price);

    private sealed record Problem(int Status, string Title, string Detail);
}
