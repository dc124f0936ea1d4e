using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Makes the body of a keyed form request rewindable at the very front of the pipeline, so the fingerprint sees the
/// bytes the client sent even when middleware before <c>UseRedisIdempotency</c> read the form (antiforgery validation,
/// anything calling <c>ReadFormAsync</c>): without it the form reader consumes the body, and every form under one key
/// would hash as the same empty body.
/// </summary>
/// <remarks>
/// Only requests that can be idempotent and read as a form are buffered (a non-safe method, a form content type and a
/// header some idempotency policy or endpoint names as its key), and buffering costs nothing until something reads:
/// then up to 30 KB in memory, the rest in a temporary file, as <c>EnableBuffering</c> does.
/// </remarks>
internal sealed class IdempotencyRequestBuffering(IServiceProvider services) : IStartupFilter
{
    private volatile string[] _endpointHeaders = [];

    // Resolved on the first request: the provider reads the options, which start-up reports on as a whole (and which
    // may be invalid while this filter is created).
    private IdempotencyPolicyProvider? _policies;

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(BufferAsync);
        next(app);

        // Header names set on [Idempotent] or WithIdempotency rather than in options; the endpoints exist only now.
        if (app.ApplicationServices.GetService<EndpointDataSource>() is { } source)
        {
            _endpointHeaders = [.. source.Endpoints
                .Select(e => e.Metadata.GetMetadata<IdempotentAttribute>()?.HeaderName)
                .OfType<string>()
                .Distinct(StringComparer.OrdinalIgnoreCase)];
        }
    };

    private Task BufferAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && request.HasFormContentType && HasKeyHeader(request.Headers))
        {
            request.EnableBuffering();
        }

        return next(context);
    }

    private bool HasKeyHeader(IHeaderDictionary headers)
    {
        _policies ??= services.GetRequiredService<IdempotencyPolicyProvider>();
        if (_policies.Current.KeyHeaders.Any(headers.ContainsKey))
        {
            return true;
        }

        foreach (var name in _endpointHeaders)
        {
            if (headers.ContainsKey(name))
            {
                return true;
            }
        }

        return false;
    }
}
