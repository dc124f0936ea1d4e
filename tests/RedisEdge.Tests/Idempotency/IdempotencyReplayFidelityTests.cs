using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>A replay is the original response: its encoding with its bytes, the headers its status needs, and the
/// stored headers in place of (not beside) those earlier middleware set.</summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyReplayFidelityTests(RedisServerFixture redis)
{
    private static readonly string Report = string.Concat(Enumerable.Range(0, 400).Select(i => $"line {i}: an order report\n"));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompressionInsideTheMiddleware_TheReplayKeepsContentEncodingWithTheBody(bool kestrel)
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) =>
            {
                app.UseResponseCompression();
                app.MapPost("/report", () =>
                {
                    Interlocked.Increment(ref executions);
                    return Results.Text(Report, "text/plain");
                }).WithIdempotency();
            },
            services: (builder, _) => builder.Services.AddResponseCompression(),
            kestrel: kestrel);

        using var first = await SendAsync(fleet, "gzip");
        Assert.Equal("gzip", Assert.Single(first.Content.Headers.ContentEncoding));
        Assert.Equal(Report, await GunzipAsync(first));

        using var replay = await SendAsync(fleet, "gzip");
        Assert.True(replay.IsReplay());
        Assert.Equal("gzip", Assert.Single(replay.Content.Headers.ContentEncoding));
        Assert.Equal(Report, await GunzipAsync(replay));

        // A retry that no longer accepts gzip still gets the response, decoded, never gzip bytes it cannot read.
        using var plain = await SendAsync(fleet, acceptEncoding: null);
        Assert.True(plain.IsReplay());
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Equal(Report, await plain.Content.ReadAsStringAsync());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task HeadersAStatusNeeds_AreReplayedWithIt()
    {
        await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) =>
        {
            app.MapPost("/method", (HttpContext context) =>
            {
                context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                context.Response.Headers.Allow = "GET, PUT";
            }).WithIdempotency();
            app.MapPost("/busy", (HttpContext context) =>
            {
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = "120";
            }).WithIdempotency(configure: a => a.StoredStatusCodes = "2xx,429");
            app.MapPost("/login", (HttpContext context) =>
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"orders\"";
            }).WithIdempotency(configure: a => a.StoredStatusCodes = "2xx,401");
        });

        foreach (var (path, header, value) in new[] { ("/method", "Allow", "GET, PUT"), ("/busy", "Retry-After", "120"), ("/login", "WWW-Authenticate", "Bearer realm=\"orders\"") })
        {
            using var first = await fleet[0].PostAsync(path, "k-headers" + path);
            using var replay = await fleet[0].PostAsync(path, "k-headers" + path);
            Assert.True(replay.IsReplay(), path);
            Assert.Equal(first.StatusCode, replay.StatusCode);
            Assert.Equal(value, HeaderOf(replay, header));
        }
    }

    [Fact]
    public async Task StoredHeaders_ReplaceWhatEarlierMiddlewareSet_RatherThanJoinIt()
    {
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/jobs", (HttpContext context) =>
            {
                context.Response.Headers.Link = "</jobs/1/status>; rel=\"monitor\"";
                return Results.Accepted("/jobs/1");
            }).WithIdempotency(),
            beforeIdempotency: (app, _) => app.Use((context, next) =>
            {
                context.Response.Headers.Link = "</app.css>; rel=\"preload\"";
                context.Response.Headers.ContentType = "text/html";
                return next(context);
            }));

        using var first = await fleet[0].PostAsync("/jobs", "k-replace");
        using var replay = await fleet[0].PostAsync("/jobs", "k-replace");
        Assert.True(replay.IsReplay());
        Assert.Equal(first.Headers.GetValues("Link"), replay.Headers.GetValues("Link"));
        Assert.Equal("</jobs/1/status>; rel=\"monitor\"", Assert.Single(replay.Headers.GetValues("Link")));
        Assert.Equal(first.Content.Headers.ContentType, replay.Content.Headers.ContentType);
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await replay.Content.ReadAsByteArrayAsync());
    }

    private static async Task<HttpResponseMessage> SendAsync(RedisFleet fleet, string? acceptEncoding)
    {
        using var request = IdempotencyTestApp.Post("/report", "k-report");
        if (acceptEncoding is not null)
        {
            request.Headers.Add("Accept-Encoding", acceptEncoding);
        }

        return await fleet[0].Client.SendAsync(request);
    }

    private static async Task<string> GunzipAsync(HttpResponseMessage response)
    {
        await using var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    private static string HeaderOf(HttpResponseMessage response, string name) =>
        string.Join(", ", response.Headers.TryGetValues(name, out var values) ? values : response.Content.Headers.GetValues(name));
}
