using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

/// <summary>
/// Whose key it is under the default <c>Scope = User</c>: the authenticated subject qualified by its issuer, never the
/// display name; unidentified callers are refused unless client-IP scoping is opted into, and then only with an address.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class IdempotencyCallerTests(RedisServerFixture redis)
{
    private const string Key = "caller-key-1";

    [Fact]
    public async Task TwoUsersWithTheSameDisplayName_ButDifferentSubjects_DoNotShareKeys()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions));

        using var alice = await SendAsync(fleet, ("X-Test-User", "u-1"), ("X-Test-Name", "Sam"));
        using var bob = await SendAsync(fleet, ("X-Test-User", "u-2"), ("X-Test-Name", "Sam"));
        Assert.False(alice.IsReplay());
        Assert.False(bob.IsReplay());
        Assert.NotEqual(await alice.Content.ReadAsStringAsync(), await bob.Content.ReadAsStringAsync());
        Assert.Equal(2, executions);

        using var aliceRetry = await SendAsync(fleet, ("X-Test-User", "u-1"), ("X-Test-Name", "Samantha"));
        Assert.True(aliceRetry.IsReplay(), "A renamed user is still the same subject.");
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task TheSameSubjectFromTwoIssuers_AreTwoCallers()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions));

        using var first = await SendAsync(fleet, ("X-Test-User", "42"), ("X-Test-Issuer", "https://tenant-a.test"));
        using var second = await SendAsync(fleet, ("X-Test-User", "42"), ("X-Test-Issuer", "https://tenant-b.test"));
        Assert.False(first.IsReplay());
        Assert.False(second.IsReplay());
        Assert.Equal(2, executions);
    }

    [Fact]
    public async Task AnonymousCaller_IsRefusedByDefault_WithoutARedisCall()
    {
        var executions = 0;
        await using var fleet = await StartAsync(() => Interlocked.Increment(ref executions));

        using var scope = fleet[0].Commands.Begin();
        using var anonymous = await SendAsync(fleet, ("X-Test-Anonymous", "1"), ("X-Client-Ip", "10.0.0.1"));
        Assert.Equal(HttpStatusCode.BadRequest, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        Assert.Empty(scope.Commands);
        Assert.Equal(0, executions);
    }

    [Fact]
    public async Task ClientIpOptIn_ScopesByAddress_ButAMissingAddressIsRefused_NeverOneSharedScope()
    {
        var executions = 0;
        await using var fleet = await StartAsync(
            () => Interlocked.Increment(ref executions),
            new() { [$"{IdempotencyTestApp.Section}:AnonymousFallback"] = "ClientIp" });

        // TestServer, like a misconfigured proxy chain, gives no RemoteIpAddress.
        using var noAddress = await SendAsync(fleet, ("X-Test-Anonymous", "1"));
        using var noAddressAgain = await SendAsync(fleet, ("X-Test-Anonymous", "1"));
        Assert.Equal(HttpStatusCode.BadRequest, noAddress.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noAddressAgain.StatusCode);
        Assert.Equal(0, executions);

        using var first = await SendAsync(fleet, ("X-Test-Anonymous", "1"), ("X-Client-Ip", "10.0.0.1"));
        using var second = await SendAsync(fleet, ("X-Test-Anonymous", "1"), ("X-Client-Ip", "10.0.0.2"));
        using var firstRetry = await SendAsync(fleet, ("X-Test-Anonymous", "1"), ("X-Client-Ip", "10.0.0.1"));
        Assert.False(first.IsReplay());
        Assert.False(second.IsReplay());
        Assert.True(firstRetry.IsReplay());
        Assert.Equal(2, executions);
    }

    private Task<RedisFleet> StartAsync(Func<int> execute, Dictionary<string, string?>? settings = null) =>
        IdempotencyTestApp.StartAsync(
            redis,
            (app, _) => app.MapPost("/payments", () => Results.Json(new { execution = execute() }, statusCode: 201)).WithIdempotency(),
            settings: settings,
            beforeIdempotency: (app, _) => app.Use((context, next) =>
            {
                if (context.Request.Headers["X-Client-Ip"] is { Count: 1 } ip)
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
                }

                return next(context);
            }));

    private static async Task<HttpResponseMessage> SendAsync(RedisFleet fleet, params (string Name, string Value)[] headers)
    {
        using var request = IdempotencyTestApp.Post("/payments", Key);
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        return await fleet[0].Client.SendAsync(request);
    }
}
