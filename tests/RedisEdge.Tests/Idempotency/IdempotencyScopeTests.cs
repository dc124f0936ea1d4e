using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// Who a key belongs to when the configured scope cannot name the caller (<c>AnonymousFallback</c>), a scope resolved
/// in code (<c>ScopeResolver</c>), and the request headers that are part of the fingerprint (<c>FingerprintHeaders</c>).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyScopeTests(RedisServerFixture redis)
{
    private const string Key = "scope-key-1";

    [Fact]
    public async Task AnonymousFallbackReject_Is400_AndRunsNothing_WhileAnIdentifiedCallerExecutes()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions), new() { [$"{IdempotencyTestApp.Section}:AnonymousFallback"] = "Reject" });

        using var anonymous = await SendAsync(fleet, ip: "10.0.0.1");
        Assert.Equal(HttpStatusCode.BadRequest, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, executions);
        Assert.Empty(await redis.RecordKeysAsync(fleet));

        using var identified = await SendAsync(fleet, ip: "10.0.0.1", apiKey: "alice");
        Assert.Equal(HttpStatusCode.Created, identified.StatusCode);
        Assert.Equal(1, executions);
    }

    [Theory]
    [InlineData("Shared", 1)]
    [InlineData("ClientIp", 2)]
    public async Task AnonymousCallersFromTwoAddresses_ShareOneRecordOnlyWhenTheFallbackIsShared(string fallback, int expectedExecutions)
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions), new() { [$"{IdempotencyTestApp.Section}:AnonymousFallback"] = fallback });

        using var first = await SendAsync(fleet, ip: "10.0.0.1");
        using var second = await SendAsync(fleet, ip: "10.0.0.2");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.False(first.IsReplay());
        Assert.Equal(expectedExecutions == 1, second.IsReplay());
        Assert.Equal(expectedExecutions, executions);
        Assert.Equal(expectedExecutions, (await redis.RecordKeysAsync(fleet)).Count);
    }

    [Fact]
    public async Task CustomScope_KeepsTenantsApart_AndFallsBackWhenTheResolverHasNoAnswer()
    {
        var executions = 0;
        await using var fleet = await StartAsync(
            () => Interlocked.Increment(ref executions),
            new() { [$"{IdempotencyTestApp.Section}:AnonymousFallback"] = "Reject" },
            o =>
            {
                o.Scope = RedisIdempotencyScope.Custom;
                o.ScopeResolver = context => context.Request.Headers["X-Tenant"].ToString();
            });

        using var t1 = await SendAsync(fleet, tenant: "t1");
        using var t2 = await SendAsync(fleet, tenant: "t2");
        using var t1Retry = await SendAsync(fleet, tenant: "t1");
        using var none = await SendAsync(fleet);
        Assert.False(t1.IsReplay());
        Assert.False(t2.IsReplay());
        Assert.True(t1Retry.IsReplay());
        Assert.Equal(await t1.Content.ReadAsStringAsync(), await t1Retry.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task FingerprintHeaders_MakeAReusedKeyWithAnotherHeaderValueA422()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions), new() { [$"{IdempotencyTestApp.Section}:FingerprintHeaders:0"] = "X-Variant" });

        using var first = await SendAsync(fleet, apiKey: "alice", variant: "a");
        using var other = await SendAsync(fleet, apiKey: "alice", variant: "b");
        using var retry = await SendAsync(fleet, apiKey: "alice", variant: "a");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        Assert.True(retry.IsReplay());
        Assert.Equal(1, executions);
    }

    private Task<RedisFleet> StartAsync(Func<int> execute, Dictionary<string, string?> settings, Action<RedisIdempotencyOptions>? configure = null)
    {
        settings.TryAdd($"{IdempotencyTestApp.Section}:Scope", "Header");
        settings[$"{IdempotencyTestApp.Section}:ScopeHeaderName"] = "X-Api-Key";
        return IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => Results.Json(new { execution = execute() }, statusCode: 201)).WithIdempotency(),
            settings: settings,
            configure: configure,
            beforeIdempotency: (app, _) => app.Use((context, next) =>
            {
                if (context.Request.Headers["X-Client-Ip"] is { Count: 1 } ip)
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
                }

                return next(context);
            }));
    }

    private static async Task<HttpResponseMessage> SendAsync(RedisFleet fleet, string? ip = null, string? apiKey = null, string? tenant = null, string? variant = null)
    {
        using var request = IdempotencyTestApp.Post("/payments", Key, apiKey: apiKey);
        AddHeader(request, "X-Client-Ip", ip);
        AddHeader(request, "X-Tenant", tenant);
        AddHeader(request, "X-Variant", variant);
        return await fleet[0].Client.SendAsync(request);
    }

    private static void AddHeader(HttpRequestMessage request, string name, string? value)
    {
        if (value is not null)
        {
            request.Headers.Add(name, value);
        }
    }
}
