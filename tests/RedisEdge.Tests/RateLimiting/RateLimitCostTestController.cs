using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using RedisEdge.RateLimiting;

namespace RedisEdge.Tests.RateLimiting;

/// <summary>A controller-level policy whose cost an action redeclares, and an action the first-party marker turns off.</summary>
[ApiController]
[Route("rl-cost")]
[RateLimit("class")]
public sealed class RateLimitCostTestController : ControllerBase
{
    [HttpGet("heavy")]
    [RateLimit("class", Cost = 10)]
    public string Heavy() => "ok";

    [HttpGet("light")]
    public string Light() => "ok";

    [HttpGet("health")]
    [DisableRateLimiting]
    public string Health() => "ok";
}
