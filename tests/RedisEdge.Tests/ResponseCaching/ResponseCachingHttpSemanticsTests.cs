using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>RFC 9111 semantics a shared cache must keep: Vary, the origin's validators, conditional and range
/// requests on a fill, and a hit that equals the miss. Requests alternate between two instances, as behind a balancer.</summary>
public abstract class ResponseCachingHttpSemanticsTests(RedisTestServer redis)
{
    [Fact]
    public async Task ResponseCompressionAfterTheCache_ClientsThatDoNotAcceptAnEncoding_NeverGetItsBytes()
    {
        var origin = new Origin();
        await using var fleet = await StartWithCompressionAsync(origin, []);
        using var client = fleet.Balancer();

        var brotli = await GetAsync(client, "/items/1", "br");
        Assert.Equal(["br"], brotli.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", brotli.Headers.Vary);

        var plain = await GetAsync(client, "/items/1", null);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.StartsWith("id=1;render=", await plain.BodyAsync(), StringComparison.Ordinal);
        var gzip = await GetAsync(client, "/items/1", "gzip");
        Assert.Equal(["gzip"], gzip.Content.Headers.ContentEncoding);

        // Vary names a request header the key does not hold: not stored (and said so), never served to another client.
        Assert.Contains("detail=not-storable-vary", brotli.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(3, origin.Executions);
    }

    [Fact]
    public async Task ResponseCompressionAfterTheCache_WithAcceptEncodingInVaryByHeader_StoresOneVariantPerEncoding()
    {
        var origin = new Origin();
        await using var fleet = await StartWithCompressionAsync(origin, new Dictionary<string, string?>().Policy("items", ("VaryByHeaderNames:0", "Accept-Encoding")));
        using var client = fleet.Balancer();

        Assert.Contains("stored", (await GetAsync(client, "/items/1", "br")).CacheStatus(), StringComparison.Ordinal);
        var plain = await GetAsync(client, "/items/1", null);
        Assert.Contains("stored", plain.CacheStatus(), StringComparison.Ordinal);
        Assert.Empty(plain.Content.Headers.ContentEncoding);

        var brotliHit = await GetAsync(client, "/items/1", "br");
        var plainHit = await GetAsync(client, "/items/1", null);
        Assert.StartsWith("RedisEdge; hit", brotliHit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(["br"], brotliHit.Content.Headers.ContentEncoding);
        Assert.StartsWith("RedisEdge; hit", plainHit.CacheStatus(), StringComparison.Ordinal);
        Assert.Empty(plainHit.Content.Headers.ContentEncoding);
        Assert.Equal(2, origin.Executions);
    }

    [Fact]
    public async Task ResponseCompressionBeforeTheCache_StoresTheIdentityBody_AndCompressesEveryServe()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(
            redis,
            origin,
            [],
            instances: 2,
            beforeCaching: (app, _) => app.UseResponseCompression(),
            services: builder => builder.Services.AddResponseCompression());
        using var client = fleet.Balancer();

        var brotli = await GetAsync(client, "/items/1", "br");
        var plain = await GetAsync(client, "/items/1", null);
        var gzip = await GetAsync(client, "/items/1", "gzip");
        Assert.Contains("stored", brotli.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(["br"], brotli.Content.Headers.ContentEncoding);
        Assert.StartsWith("RedisEdge; hit", plain.CacheStatus(), StringComparison.Ordinal);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Equal("id=1;render=1;user=anonymous", await plain.BodyAsync());
        Assert.Equal(["gzip"], gzip.Content.Headers.ContentEncoding);
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task VaryAcceptLanguage_NotInVaryByHeader_IsNotStored_SoEachLanguageGetsItsOwn()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        using var client = fleet.Balancer();

        var french = await GetAsync(client, "/lang/1", null, "fr-FR");
        var english = await GetAsync(client, "/lang/1", null, "en-US");
        Assert.Equal("bonjour 1", await french.BodyAsync());
        Assert.Equal("hello 1", await english.BodyAsync());
        Assert.Contains("detail=not-storable-vary", french.CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VaryAcceptLanguage_InVaryByHeader_IsStoredPerLanguage()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, new Dictionary<string, string?>().Policy("items", ("VaryByHeaderNames:0", "accept-language")), instances: 2);
        using var client = fleet.Balancer();

        await GetAsync(client, "/lang/1", null, "fr-FR");
        await GetAsync(client, "/lang/1", null, "en-US");
        var french = await GetAsync(client, "/lang/1", null, "fr-FR");
        var english = await GetAsync(client, "/lang/1", null, "en-US");
        Assert.Equal("bonjour 1", await french.BodyAsync());
        Assert.Equal("hello 1", await english.BodyAsync());
        Assert.StartsWith("RedisEdge; hit", french.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("RedisEdge; hit", english.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(2, origin.Executions);
    }

    [Fact]
    public async Task OriginETag_IsKept_AndIfNoneMatchWithItAnswers304OnAHit()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        using var client = fleet.Balancer();

        var miss = await client.GetAsync("/etag/1");
        var hit = await client.GetAsync("/etag/1");
        Assert.Equal("\"origin-1\"", miss.Headers.ETag?.ToString());
        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("\"origin-1\"", hit.Headers.ETag?.ToString());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, "/etag/1");
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"origin-1\""));
        var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal("\"origin-1\"", notModified.Headers.ETag?.ToString());
        Assert.Equal(1, origin.Executions);

        // Without an origin ETag, one is still generated from the body.
        var generated = await client.GetAsync("/items/1");
        Assert.NotNull(generated.Headers.ETag);
    }

    [Fact]
    public async Task ColdIfNoneMatch_GetsItsOwn304_AndTheFillStoresTheFull200()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        using var client = fleet.Balancer();

        using var conditional = new HttpRequestMessage(HttpMethod.Get, "/file/1");
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"file-1\""));
        var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Contains("stored", notModified.CacheStatus(), StringComparison.Ordinal);

        var hit = await client.GetAsync("/file/1");
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("0123456789-1", await hit.BodyAsync());
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task ColdIfModifiedSince_GetsItsOwn304_AndTheFillStoresTheFull200()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        using var client = fleet.Balancer();

        using var conditional = new HttpRequestMessage(HttpMethod.Get, "/file/1");
        conditional.Headers.IfModifiedSince = Origin.FileLastModified.AddMinutes(1);
        var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var older = new HttpRequestMessage(HttpMethod.Get, "/file/1");
        older.Headers.IfModifiedSince = Origin.FileLastModified.AddDays(-1);
        var modified = await client.SendAsync(older);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
        Assert.StartsWith("RedisEdge; hit", modified.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("0123456789-1", await modified.BodyAsync());

        using var stillFresh = new HttpRequestMessage(HttpMethod.Get, "/file/1");
        stillFresh.Headers.IfModifiedSince = Origin.FileLastModified;
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(stillFresh)).StatusCode);
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task ColdRange_DoesNotTurnTheKeyIntoAPass_TheClientGetsTheWholeBody()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        using var client = fleet.Balancer();

        using var ranged = new HttpRequestMessage(HttpMethod.Get, "/file/1");
        ranged.Headers.Range = new RangeHeaderValue(0, 3);
        var first = await client.SendAsync(ranged);
        Assert.Contains("stored", first.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("0123456789-1", await first.BodyAsync());

        var hit = await client.GetAsync("/file/1");
        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("0123456789-1", await hit.BodyAsync());
        Assert.Equal(1, origin.Executions);
    }

    [Fact]
    public async Task HeaderAnEarlierMiddlewareSet_IsReplacedOnAHitAsOnTheMiss()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2, beforeCaching: (app, _) => app.Use(next => context =>
        {
            context.Response.Headers["X-Owner"] = "default";
            return next(context);
        }));
        using var client = fleet.Balancer();

        var miss = await client.GetAsync("/own-header/1");
        var hit = await client.GetAsync("/own-header/1");
        Assert.Equal(["endpoint"], miss.Headers.GetValues("X-Owner"));
        Assert.StartsWith("RedisEdge; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(["endpoint"], hit.Headers.GetValues("X-Owner"));
    }

    [Fact]
    public async Task HttpAndHttps_AreDifferentEntries()
    {
        var origin = new Origin();
        await using var fleet = await CacheTestApp.StartAsync(redis, origin, [], instances: 2);
        using var client = fleet.Balancer();

        var https = await (await client.GetAsync("https://localhost/scheme/1")).BodyAsync();
        var http = await (await client.GetAsync("http://localhost/scheme/1")).BodyAsync();
        var httpsAgain = await client.GetAsync("https://localhost/scheme/1");
        Assert.Equal("https://localhost/scheme/1", https);
        Assert.Equal("http://localhost/scheme/1", http);
        Assert.StartsWith("RedisEdge; hit", httpsAgain.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(https, await httpsAgain.BodyAsync());
        Assert.Equal(2, origin.Executions);
    }

    private Task<RedisFleet> StartWithCompressionAsync(Origin origin, Dictionary<string, string?> settings) =>
        CacheTestApp.StartAsync(
            redis,
            origin,
            settings,
            instances: 2,
            services: builder => builder.Services.AddResponseCompression(),
            afterCaching: app => app.UseResponseCompression());

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string url, string? acceptEncoding, string? acceptLanguage = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (acceptEncoding is not null)
        {
            request.Headers.AcceptEncoding.ParseAdd(acceptEncoding);
        }

        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        var response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}

/// <summary>The same tests on one <c>redis-server</c>.</summary>
[Collection(RedisCollection.Name)]
public sealed class ResponseCachingHttpSemanticsTestsOnSingleNode(RedisServerFixture redis) : ResponseCachingHttpSemanticsTests(redis);

/// <summary>The same tests on a six-node Redis Cluster.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ResponseCachingHttpSemanticsTestsOnCluster(RedisClusterFixture redis) : ResponseCachingHttpSemanticsTests(redis);
