using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisEdge.Idempotency;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Idempotency;

[Collection(RedisCollection.Name)]
public sealed class IdempotencyConfigurationTests(RedisServerFixture redis)
{
    private const string Section = IdempotencyTestApp.Section;

    [Fact]
    public async Task BadValues_FailAtStartup_NamingEveryPath()
    {
        var message = Flatten(await StartFails(new()
        {
            [$"{Section}:Lease"] = "00:00:00",
            [$"{Section}:Retention"] = "-01:00:00",
            [$"{Section}:StoredStatusCodes:0"] = "2xx",
            [$"{Section}:StoredStatusCodes:1"] = "6xx",
            [$"{Section}:AllowedReplayHeaders:0"] = "Set-Cookie",
            [$"{Section}:AllowedReplayHeaders:1"] = "Transfer-Encoding",
            [$"{Section}:MaximumBodySize"] = "-1",
            [$"{Section}:MaxRequestBodySize"] = "1099511627776",
            [$"{Section}:Policies:big:MaximumBodySize"] = "134217728",
            [$"{Section}:Scope"] = "Header",
            [$"{Section}:Policies:checkout:Lease"] = "00:00:00.010",
            [$"{Section}:Policies:checkout:InFlight"] = "Wait",
            [$"{Section}:Policies:checkout:WaitTimeout"] = "00:00:00",
            [$"{Section}:Policies:bad name!:KeyRequired"] = "true",
        }));

        Assert.Contains($"{Section}:Lease must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:Retention must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:StoredStatusCodes: '6xx'", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:AllowedReplayHeaders:0: 'Set-Cookie' is never replayed", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:AllowedReplayHeaders:1: 'Transfer-Encoding' is never replayed", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:MaximumBodySize must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:MaxRequestBodySize must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:Policies:big:MaximumBodySize must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:ScopeHeaderName is required when Scope is Header", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:Policies:checkout:Lease must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:Policies:checkout:WaitTimeout must be", message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:Policies:bad name!", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnconvertibleValues_FailAtStartup_NamingThePath()
    {
        var message = Flatten(await StartFails(new() { [$"{Section}:Policies:p:InFlight"] = "Sometimes" }));
        Assert.Contains($"{Section}:Policies:p:InFlight", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownPolicyOnAnEndpoint_FailsAtStartup_NamingPolicyAndPath()
    {
        var error = await StartFails(
            new() { [$"{Section}:Policies:checkout:Lease"] = "00:00:10" },
            app => app.MapPost("/x", () => "ok").WithIdempotency("chekout"));
        Assert.Contains("'chekout'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{Section}:Policies", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttributeOverrideMakingALeaseZero_FailsAtStartup_NamingTheEndpoint()
    {
        var error = await StartFails([], app => app.MapPost("/x", () => "ok").WithIdempotency(configure: a => a.Lease = 0));
        Assert.Contains("Endpoint 'HTTP: POST /x' [Idempotent]:Lease must be", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidAttributeArguments_AllFailOneStartup_NamingTheEndpoint()
    {
        var error = await StartFails([], app =>
        {
            app.MapPost("/negative", () => "ok").WithIdempotency(configure: a =>
            {
                a.Retention = -60;
                a.WaitTimeout = -1;
                a.InFlight = RedisIdempotencyInFlightBehavior.Wait;
                a.StoredStatusCodes = "2xx,600";
                a.MaximumBodySize = -1;
            });
            app.MapPost("/blank", () => "ok").WithIdempotency(configure: a => a.Policy = " ");
        });
        Assert.Contains("Endpoint 'HTTP: POST /negative' [Idempotent]:Retention must be", error.Message, StringComparison.Ordinal);
        Assert.Contains("Endpoint 'HTTP: POST /negative' [Idempotent]:WaitTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("Endpoint 'HTTP: POST /negative' [Idempotent]:StoredStatusCodes", error.Message, StringComparison.Ordinal);
        Assert.Contains("Endpoint 'HTTP: POST /negative' [Idempotent]:MaximumBodySize must be", error.Message, StringComparison.Ordinal);
        Assert.Contains("Endpoint 'HTTP: POST /blank' uses idempotency policy ' '", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseRedisIdempotency_WithoutAddIdempotency_Throws()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddRedisEdge();
        using var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.UseRedisIdempotency());
        Assert.Contains("AddIdempotency", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddIdempotency_Twice_Throws_AndASectionBindsThatSection()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Replay:HeaderName"] = "X-Request-Key",
            ["Replay:Policies:Checkout:Lease"] = "00:00:05",
            ["RedisEdge:Redis:Configuration"] = redis.Configuration,
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        var edge = services.AddRedisEdge().AddIdempotency(configuration.GetSection("Replay"));
        Assert.Throws<InvalidOperationException>(() => edge.AddIdempotency());
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<RedisIdempotencyOptions>>().Value;
        Assert.Equal("X-Request-Key", options.HeaderName);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Policies["checkout"].Lease);
        Assert.Equal(RedisFailureMode.FailClosed, options.Failure.Mode);
        Assert.Equal(TimeSpan.FromHours(24), options.Retention);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Lease);
    }

    [Fact]
    public void Attribute_ChecksNothingAtCreation_AndTheConventionAddsOneInstancePerGroup()
    {
        // Nothing throws at creation (MVC would report it naming no endpoint); start-up checks, naming the endpoint.
        var raw = new IdempotentAttribute { Lease = -1, Retention = 0, StoredStatusCodes = "2xx,600", Policy = " ", MaximumBodySize = -1 };
        Assert.Equal(-1, raw.Lease);
        Assert.Equal(TimeSpan.FromSeconds(90), new IdempotentAttribute { Lease = 90 }.LeaseValue);
        Assert.Null(new IdempotentAttribute().LeaseValue);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddRedisEdge().AddIdempotency();
        using var app = builder.Build();
        var group = app.MapGroup("/g").WithIdempotency("checkout", a => a.KeyRequired = false);
        group.MapPost("/a", () => "a");
        group.MapPost("/b", () => "b");
        var endpoints = ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).ToList();
        var attributes = endpoints.Select(e => e.Metadata.GetMetadata<IdempotentAttribute>()!).ToList();
        Assert.Equal(2, attributes.Count);
        Assert.Same(attributes[0], attributes[1]);
        Assert.False(attributes[0].KeyRequired);
        Assert.Equal("checkout", attributes[0].Policy);
    }

    private async Task<Exception> StartFails(Dictionary<string, string?> settings, Action<WebApplication>? endpoints = null)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var fleet = await IdempotencyTestApp.StartAsync(redis, (app, _) => endpoints?.Invoke(app), settings: settings);
        });
        return error is OptionsValidationException or InvalidOperationException ? error : throw new Xunit.Sdk.XunitException("Unexpected " + error);
    }

    private static string Flatten(Exception error) => error.InnerException is null ? error.Message : error.Message + " | " + Flatten(error.InnerException);
}
