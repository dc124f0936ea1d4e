using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace RedisEdge.Internal;

/// <summary>
/// The one problem+json writer every feature uses (RFC 9457). It goes through the app's
/// <c>IProblemDetailsService</c> when one is registered and writes plain problem+json otherwise.
/// </summary>
internal static class RedisEdgeProblems
{
    /// <summary>Writes <paramref name="problem"/> with its status; the caller sets any headers first.</summary>
    public static Task WriteAsync(HttpContext context, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        return TypedResults.Problem(problem).ExecuteAsync(context);
    }

    /// <summary>
    /// The fail-closed answer while Redis cannot serve a feature: <c>503</c> with <c>Retry-After</c> (from the
    /// breaker, whole seconds, at least 1) and <c>Cache-Control: no-store</c>. Clears anything the endpoint wrote.
    /// </summary>
    public static Task WriteUnavailableAsync(HttpContext context, RedisEdgeUnavailableException exception, string title, string detail, Action<ProblemDetails>? extend = null)
    {
        var response = context.Response;
        response.Clear();
        response.Headers.RetryAfter = RetryAfterSeconds(exception.RetryAfter).ToString(CultureInfo.InvariantCulture);
        response.Headers.CacheControl = "no-store";
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = title,
            Detail = detail,
        };
        extend?.Invoke(problem);
        return WriteAsync(context, problem);
    }

    /// <summary>A delay as whole <c>Retry-After</c> seconds, rounded up, at least 1.</summary>
    public static long RetryAfterSeconds(TimeSpan delay) => Math.Max(1, (long)Math.Ceiling(delay.TotalSeconds));
}
