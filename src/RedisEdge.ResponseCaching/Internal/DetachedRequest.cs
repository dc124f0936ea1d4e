using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// A copy of a request that the origin can run on after the original request has ended (a stale-while-revalidate
/// refresh): method, URL, headers, connection addresses, user, items, endpoint and route values, with a service scope
/// of its own and a <c>RequestAborted</c> that only the host's shutdown cancels. The response goes nowhere until the
/// caller sets a body feature.
/// </summary>
internal static class DetachedRequest
{
    public static HttpContext Copy(HttpContext context, IServiceScopeFactory scopes, CancellationToken stopping)
    {
        var source = context.Request;
        var headers = new HeaderDictionary();
        foreach (var (name, value) in source.Headers)
        {
            headers[name] = value;
        }

        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Protocol = source.Protocol,
            Method = source.Method,
            Scheme = source.Scheme,
            PathBase = source.PathBase.Value ?? string.Empty,
            Path = source.Path.Value ?? string.Empty,
            QueryString = source.QueryString.Value ?? string.Empty,
            RawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? string.Empty,
            Headers = headers,
            Body = Stream.Null,
        });
        features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(Stream.Null));
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = stopping });
        var connection = context.Connection;
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature
        {
            ConnectionId = connection.Id,
            RemoteIpAddress = connection.RemoteIpAddress,
            RemotePort = connection.RemotePort,
            LocalIpAddress = connection.LocalIpAddress,
            LocalPort = connection.LocalPort,
        });
        features.Set<IItemsFeature>(new ItemsFeature { Items = new Dictionary<object, object?>(context.Items) });
        features.Set<IHttpAuthenticationFeature>(new HttpAuthenticationFeature { User = context.User });

        var copy = new DefaultHttpContext(features);
        copy.Features.Set<IServiceProvidersFeature>(new RequestServicesFeature(copy, scopes));
        copy.SetEndpoint(context.GetEndpoint());
        copy.Request.RouteValues = new RouteValueDictionary(source.RouteValues);
        return copy;
    }
}
