using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>Builders for in-process test apps.</summary>
public static class TestHost
{
    // The test assembly references the sample app, whose appsettings.json is copied next to the tests; an empty
    // content root keeps that file (and its RedisEdge settings) out of the apps the tests build.
    private static readonly string EmptyContentRoot = Directory.CreateTempSubdirectory("redisedge-contentroot-").FullName;

    /// <summary>
    /// A slim web app builder on TestServer (or, with <paramref name="kestrel"/>, on Kestrel listening on a free
    /// loopback port) with no logging providers, no appsettings files and <paramref name="settings"/> as its configuration.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(IDictionary<string, string?>? settings = null, bool kestrel = false)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Testing",
            ContentRootPath = EmptyContentRoot,
            ApplicationName = typeof(TestHost).Assembly.GetName().Name,
        });
        if (kestrel)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        return builder;
    }
}
