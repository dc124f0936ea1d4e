using System.Net;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// The fingerprint covers the body bytes the client sent, even when middleware before idempotency (antiforgery, a
/// logger, anything calling <c>ReadFormAsync</c>) has already read the form.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyFormTests(RedisServerFixture redis)
{
    [Fact]
    public async Task UrlEncodedForm_ReadBeforeTheMiddleware_AReusedKeyWithAnotherForm_Is422()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions));

        using var first = await SendAsync(fleet, "k-form", UrlEncoded(("item", "book"), ("quantity", "1")));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal("book:1", await first.Content.ReadAsStringAsync());

        using var other = await SendAsync(fleet, "k-form", UrlEncoded(("item", "book"), ("quantity", "9")));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);

        using var retry = await SendAsync(fleet, "k-form", UrlEncoded(("item", "book"), ("quantity", "1")));
        Assert.True(retry.IsReplay());
        Assert.Equal("book:1", await retry.Content.ReadAsStringAsync());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task MultipartForm_ReadBeforeTheMiddleware_AReusedKeyWithAnotherFile_Is422()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions));

        using var first = await SendAsync(fleet, "k-multipart", Multipart("scan of invoice 1"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal("invoice:17", await first.Content.ReadAsStringAsync());

        using var other = await SendAsync(fleet, "k-multipart", Multipart("scan of invoice 2"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);

        using var retry = await SendAsync(fleet, "k-multipart", Multipart("scan of invoice 1"));
        Assert.True(retry.IsReplay());
        Assert.Equal(1, executions);
    }

    [Fact]
    public async Task AntiforgeryValidatedForm_AReusedKeyWithAnotherForm_Is422()
    {
        var executions = 0;
        await using var fleet = await IdempotencyTestApp.StartAsync(
            redis,
            (app, _) =>
            {
                app.MapGet("/token", (HttpContext context, IAntiforgery antiforgery) => antiforgery.GetAndStoreTokens(context).RequestToken);

                // [FromForm] parameters make the endpoint require antiforgery validation, which reads the form first.
                app.MapPost("/orders", ([FromForm] string item, [FromForm] int quantity) =>
                {
                    Interlocked.Increment(ref executions);
                    return Results.Text($"{item}:{quantity}", statusCode: StatusCodes.Status201Created);
                }).WithIdempotency();
            },
            services: (builder, _) => builder.Services.AddAntiforgery(),
            beforeIdempotency: (app, _) => app.UseAntiforgery());

        using var tokenResponse = await fleet[0].Client.GetAsync("/token");
        var token = await tokenResponse.Content.ReadAsStringAsync();
        var cookie = tokenResponse.Headers.GetValues("Set-Cookie").Single().Split(';')[0];

        async Task<HttpResponseMessage> PostAsync(string quantity)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/orders")
            {
                Content = UrlEncoded(("item", "book"), ("quantity", quantity), ("__RequestVerificationToken", token)),
            };
            request.Headers.Add("Idempotency-Key", "k-antiforgery");
            request.Headers.Add("Cookie", cookie);
            return await fleet[0].Client.SendAsync(request);
        }

        using var first = await PostAsync("1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal("book:1", await first.Content.ReadAsStringAsync());
        using var other = await PostAsync("9");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        using var retry = await PostAsync("1");
        Assert.True(retry.IsReplay());
        Assert.Equal(1, executions);
    }

    private Task<RedisFleet> StartAsync(Func<int> execute) =>
        IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/forms", async (HttpContext context) =>
            {
                var form = await context.Request.ReadFormAsync();
                execute();
                var text = form.Files.Count > 0 ? $"{form["kind"]}:{form.Files[0].Length}" : $"{form["item"]}:{form["quantity"]}";
                return Results.Text(text, statusCode: StatusCodes.Status201Created);
            }).WithIdempotency(),
            beforeIdempotency: (app, _) => app.Use(async (context, next) =>
            {
                // What antiforgery validation does before the endpoint runs.
                if (context.Request.HasFormContentType)
                {
                    await context.Request.ReadFormAsync();
                }

                await next(context);
            }));

    private static FormUrlEncodedContent UrlEncoded(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)));

    private static MultipartFormDataContent Multipart(string file)
    {
        // A fixed boundary, as a client retrying the same request object sends the same bytes.
        var content = new MultipartFormDataContent("retry-boundary-1") { { new StringContent("invoice"), "kind" } };
        content.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(file)), "scan", "scan.txt");
        return content;
    }

    private static async Task<HttpResponseMessage> SendAsync(RedisFleet fleet, string key, HttpContent content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/forms") { Content = content };
        request.Headers.Add("Idempotency-Key", key);
        return await fleet[0].Client.SendAsync(request);
    }
}
