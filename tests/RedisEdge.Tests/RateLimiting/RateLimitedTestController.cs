using Microsoft.AspNetCore.Mvc;
using RedisEdge.RateLimiting;

namespace RedisEdge.Tests.RateLimiting;

[ApiController]
[Route("rl-test")]
[RateLimit("class")]
public sealed class RateLimitedTestController : ControllerBase
{
    [HttpGet("limited")]
    [RateLimit("action", Cost = 1)]
    public string Limited() => "ok";

    [HttpGet("free")]
    [DisableRateLimit]
    public string Free() => "ok";
}
