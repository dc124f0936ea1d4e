using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Packaging;

/// <summary>
/// The "used-by" proof: the repository is packed into a local folder feed, and a new web app outside the solution
/// (tests/RedisEdge.Consumer, copied to a temporary directory with its own NuGet.config) references only those
/// packages by version. It is built, run against a real redis-server, and answers as the README says.
/// </summary>
/// <remarks>
/// It packs with <c>--no-build</c> from the configuration this test assembly was built in (scripts/test.sh builds
/// the solution first), under a version suffix unique to the run, so a repack never meets an older copy of the same
/// version in the NuGet cache. Its own collection runs alone, after the parallel ones: it builds an app.
/// </remarks>
[Collection(ConsumerPackageCollection.Name)]
public sealed class ConsumerPackageTests : IAsyncLifetime
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly string[] Packages =
        ["RedisEdge.Core", "RedisEdge.Sessions", "RedisEdge.RateLimiting", "RedisEdge.Idempotency", "RedisEdge.ResponseCaching", "RedisEdge.OpenTelemetry", "RedisEdge.Testing"];

    private readonly string _work = Directory.CreateTempSubdirectory("redisedge-consumer-").FullName;
    private RedisServerProcess? _redis;
    private Process? _app;
    private readonly StringBuilder _appOutput = new();

    public async Task InitializeAsync() => _redis = await RedisServerProcess.StartAsync();

    [Fact]
    public async Task A_new_app_built_from_the_packed_packages_uses_every_feature()
    {
        var root = RepositoryRoot();
        var version = $"{ReadVersionPrefix(root)}-consumer.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var feed = Path.Combine(_work, "feed");

        foreach (var package in Packages)
        {
            await RunAsync("dotnet", root,
                "pack", Path.Combine("src", package, package + ".csproj"), "-c", Configuration, "--no-build", "-nologo",
                "-v", "quiet", "-o", feed, $"-p:VersionSuffix={version[(version.IndexOf('-') + 1)..]}");
        }

        AssertPackage(feed, "RedisEdge.Idempotency", version, expectedDependencies: ["RedisEdge.Core"]);
        AssertPackage(feed, "RedisEdge.Testing", version, expectedDependencies: ["Microsoft.Garnet"]);
        AssertPackage(feed, "RedisEdge.Core", version, expectedDependencies: ["StackExchange.Redis", "Microsoft.Extensions.Caching.StackExchangeRedis"]);

        var app = Path.Combine(_work, "app");
        CopyDirectory(Path.Combine(root, "tests", "RedisEdge.Consumer"), app);
        await File.WriteAllTextAsync(Path.Combine(app, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local"><package pattern="RedisEdge.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);

        await RunAsync("dotnet", app, "build", "-c", "Release", "-nologo", "-v", "quiet", $"-p:RedisEdgeVersion={version}", "-o", Path.Combine(app, "out"));
        var assets = await File.ReadAllTextAsync(Path.Combine(app, "obj", "project.assets.json"));
        Assert.Contains($"RedisEdge.Idempotency/{version}", assets);
        Assert.DoesNotContain("RedisEdge.Idempotency.csproj", assets); // packages only, no project reference

        var baseAddress = new Uri($"http://127.0.0.1:{FreePort()}");
        StartApp(Path.Combine(app, "out", "RedisEdge.Consumer.dll"), baseAddress);
        // No cookie container: each request carries exactly the cookies the test gives it.
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        await WaitUntilListeningAsync(http);

        // Rate limiting from appsettings: "tight" allows two per minute for this client.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/limited")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/limited")).StatusCode);
        var refused = await http.GetAsync("/limited");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);

        // [Idempotent] MVC controller action: the retry gets the stored response, the action ran once.
        var key = Guid.NewGuid().ToString();
        var first = await PostOrderAsync(http, key);
        var retry = await PostOrderAsync(http, key);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal("true", Assert.Single(retry.Headers.GetValues("Idempotent-Replayed")));
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));

        // Sessions from appsettings: the cookie carries the session to the next request.
        var stored = await http.PostAsync("/session/blue", content: null);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        var cookie = Assert.Single(stored.Headers.GetValues("Set-Cookie")).Split(';')[0];
        using var read = new HttpRequestMessage(HttpMethod.Get, "/session");
        read.Headers.Add("Cookie", cookie);
        Assert.Equal("blue", await (await http.SendAsync(read)).Content.ReadAsStringAsync());
        Assert.Equal("(none)", await http.GetStringAsync("/session"));

        // Response caching from appsettings: the second request is a hit, the endpoint rendered once.
        Assert.Equal("render 1", await http.GetStringAsync("/cached"));
        var hit = await http.GetAsync("/cached");
        Assert.Equal("render 1", await hit.Content.ReadAsStringAsync());
        Assert.Contains("hit", string.Join(",", hit.Headers.GetValues("Cache-Status")));

        // Everything above went through the suite's real redis-server, under the app's own prefix.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_redis!.Configuration);
        var keys = redis.GetServer(redis.GetEndPoints()[0]).Keys(pattern: "consumer*").Select(k => k.ToString()).ToList();
        Assert.Contains(keys, k => k.Contains("idem", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(keys, k => k.Contains("sess", StringComparison.OrdinalIgnoreCase));
    }

    private static Task<HttpResponseMessage> PostOrderAsync(HttpClient http, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = JsonContent.Create(new { item = "book", quantity = 2 }) };
        request.Headers.Add("Idempotency-Key", $"\"{key}\"");
        return http.SendAsync(request);
    }

    private static void AssertPackage(string feed, string id, string version, string[] expectedDependencies)
    {
        var path = Path.Combine(feed, $"{id}.{version}.nupkg");
        Assert.True(File.Exists(path), $"{path} was not packed");
        Assert.True(File.Exists(Path.ChangeExtension(path, ".snupkg")), $"{id} has no symbol package");
        using var zip = ZipFile.OpenRead(path);
        Assert.NotNull(zip.GetEntry("README.md"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml"));
        using var nuspecStream = zip.GetEntry($"{id}.nuspec")!.Open();
        var nuspec = XDocument.Load(nuspecStream);
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal(version, metadata.Element(ns + "version")!.Value);
        Assert.Equal("MIT", metadata.Element(ns + "license")!.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        Assert.NotNull(metadata.Element(ns + "repository"));
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).Order().ToArray();
        Assert.Equal(expectedDependencies.Order().ToArray(), dependencies);
    }

    private void StartApp(string dll, Uri baseAddress)
    {
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = baseAddress.ToString();
        start.Environment["RedisEdge__Redis__Configuration"] = _redis!.Configuration;
        _app = Process.Start(start)!;
        _app.OutputDataReceived += (_, e) => { lock (_appOutput) { _appOutput.AppendLine(e.Data); } };
        _app.ErrorDataReceived += (_, e) => { lock (_appOutput) { _appOutput.AppendLine(e.Data); } };
        _app.BeginOutputReadLine();
        _app.BeginErrorReadLine();
    }

    private async Task WaitUntilListeningAsync(HttpClient http)
    {
        for (var attempt = 0; attempt < 120; attempt++)
        {
            if (_app!.HasExited)
            {
                break;
            }

            try
            {
                await http.GetAsync("/session");
                return;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(250);
            }
        }

        lock (_appOutput)
        {
            Assert.Fail($"The consumer app did not start listening:\n{_appOutput}");
        }
    }

    private static async Task RunAsync(string file, string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output}\n{await error}");
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RedisEdge.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"RedisEdge.sln was not found above {AppContext.BaseDirectory}.");
    }

    private static string ReadVersionPrefix(string root)
    {
        var props = XDocument.Load(Path.Combine(root, "Directory.Build.props"));
        return props.Descendants("VersionPrefix").Single().Value;
    }

    private static void CopyDirectory(string source, string destination)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.StartsWith("bin", StringComparison.Ordinal) || relative.StartsWith("obj", StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(destination, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async Task DisposeAsync()
    {
        if (_app is { HasExited: false })
        {
            _app.Kill(entireProcessTree: true);
            await _app.WaitForExitAsync();
        }

        _app?.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsumerPackageCollection
{
    public const string Name = "Consumer package";
}
