using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using RedisEdge.RateLimiting;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>
/// First-party rate-limiting attributes on a controller and its actions, naming RedisEdge policies ("class" and
/// "action", which every rate-limiting MVC test defines, since they all discover this assembly's controllers).
/// </summary>
[ApiController]
[Route("rl-first")]
[EnableRateLimiting("class")]
public sealed class FirstPartyRateLimitedTestController : ControllerBase
{
    [HttpGet("inherited")]
    public string Inherited() => "ok";

    [HttpGet("narrow")]
    [EnableRateLimiting("action")]
    public string Narrow() => "ok";

    [HttpGet("added")]
    [RateLimit("action")]
    public string Added() => "ok";

    [HttpGet("off")]
    [DisableRateLimiting]
    public string Off() => "ok";
}
