using System.Net;
using RedisEdge.Sessions;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Sessions;

/// <summary>
/// A client with a one-cookie jar that can talk to any fleet instance, as a browser behind a load balancer would.
/// </summary>
internal sealed class SessionBrowser
{
    public string CookieName { get; init; } = RedisSessionDefaults.CookieName;

    /// <summary>The session cookie value the browser holds (what it sends), or <see langword="null"/>.</summary>
    public string? Cookie { get; set; }

    /// <summary>The raw Set-Cookie header of the last response that set the session cookie.</summary>
    public string? LastSetCookie { get; private set; }

    /// <summary>Other cookies the browser sends with every request (for example <c>.AspNet.Consent=yes</c>), or <see langword="null"/>.</summary>
    public string? OtherCookies { get; set; }

    public async Task<HttpResponseMessage> SendAsync(RedisFleetInstance instance, HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, path);
        var cookies = string.Join("; ", new[] { Cookie is null ? null : $"{CookieName}={Cookie}", OtherCookies }.Where(c => c is not null));
        if (cookies.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookies);
        }

        var response = await instance.Client.SendAsync(request);
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var header in values)
            {
                var nameValue = header.Split(';', 2)[0];
                var separator = nameValue.IndexOf('=');
                if (separator < 0 || nameValue[..separator] != CookieName)
                {
                    continue;
                }

                LastSetCookie = header;
                var value = nameValue[(separator + 1)..];
                var expired = header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase);
                Cookie = expired || value.Length == 0 ? null : value;
            }
        }

        return response;
    }

    public async Task<string> GetAsync(RedisFleetInstance instance, string path) => await ReadAsync(await SendAsync(instance, HttpMethod.Get, path));

    public async Task<string> PostAsync(RedisFleetInstance instance, string path) => await ReadAsync(await SendAsync(instance, HttpMethod.Post, path));

    private static async Task<string> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {body}");
            return body;
        }
    }
}
