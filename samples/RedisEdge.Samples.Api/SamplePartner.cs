using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Polly.RateLimiting;

namespace RedisEdge.Samples.Api;

/// <summary>
/// <c>GET /partner/quote</c>: a call to a partner API that allows 5 calls per second for the whole fleet, made through
/// an HttpClient limited by the RedisEdge policy <c>partner</c> (appsettings.json). The partner is a stand-in endpoint
/// of the sample itself, <c>GET /partner-api/quote</c>, reached over HTTP like any other host.
/// </summary>
internal static class SamplePartner
{
    public const string ClientName = "partner";

    public static readonly string Usage =
        """
          GET /partner/quote               calls the partner (GET /partner-api/quote) through an HttpClient limited to
                                           5 calls per second fleet-wide; beyond that, 503 with Retry-After
        """;

    /// <summary>
    /// The limited client. Its base address is <c>Partner:BaseAddress</c> when set, otherwise this app's own first
    /// address, read when the client is first created (the server is listening by then).
    /// </summary>
    public static IServiceCollection AddSamplePartner(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PartnerOptions>()
            .Bind(configuration.GetSection("Partner"))
            .Validate(o => o.BaseAddress is null || o.BaseAddress.IsAbsoluteUri, "Partner:BaseAddress must be an absolute URI, such as https://partner.example.")
            .ValidateOnStart();
        services.AddHttpClient(ClientName, (sp, client) =>
                client.BaseAddress = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<PartnerOptions>>().Value.BaseAddress ?? OwnAddress(sp))
            .AddRedisEdgeRateLimiter("partner");
        return services;
    }

    public static WebApplication MapSamplePartner(this WebApplication app)
    {
        // The stand-in partner: in production this is someone else's API, with its quota for the whole fleet.
        app.MapGet("/partner-api/quote", () => new Quote("REDS", 42.17m));

        app.MapGet("/partner/quote", async (IHttpClientFactory clients, HttpContext context) =>
        {
            try
            {
                var quote = await clients.CreateClient(ClientName).GetFromJsonAsync<Quote>("/partner-api/quote", context.RequestAborted);
                return Results.Ok(quote);
            }
            catch (RateLimiterRejectedException refused)
            {
                // Our caller did nothing wrong: the partner is unavailable to us for now, so 503 and when to come back.
                var seconds = Math.Max(1, (int)Math.Ceiling((refused.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return Results.Problem(
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: "The partner's fleet-wide quota is spent.",
                    detail: refused.Message);
            }
        });
        return app;
    }

    /// <summary>
    /// This app's own address: the server's first http one (https when there is none), with a wildcard binding
    /// (<c>http://+:8080</c>, <c>http://[::]:8080</c>) turned into loopback. TestServer has no address: its tests give
    /// the client TestServer's handler, so any base address does.
    /// </summary>
    private static Uri OwnAddress(IServiceProvider services)
    {
        var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.OrderBy(a => a.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? 1 : 0).FirstOrDefault();
        if (address is null)
        {
            return new Uri("http://localhost");
        }

        var uri = new UriBuilder(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            uri.Host = "localhost";
        }

        return uri.Uri;
    }

    internal sealed class PartnerOptions
    {
        public Uri? BaseAddress { get; set; }
    }

    internal sealed record Quote(string Symbol, decimal Price);
}
